/**
 * Work that outlives the request that started it (deleting a connection's users). Each task gets a
 * signal that is aborted when the server closes; the task stops between its steps, and what it left
 * is finished at the next start (see finishDeletedConnections).
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  /**
   * Starts `task` on a later turn of the event loop, once the request that asked for it has been
   * answered: on SQLite every query runs synchronously, so a task started at once would hold the
   * answer back for as long as its first steps take, and a "Forgot password?" answer would come
   * later for an address that has an account than for one that has none. A failure goes to
   * `onError` (the log), never to a request.
   */
  run(task: (signal: AbortSignal) => Promise<void>, onError: (err: unknown) => void): void {
    if (this.stopping.signal.aborted) return;
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => task(this.stopping.signal))
      .catch(onError)
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Asks every task to stop and waits for the step each is in. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.running);
  }
}
