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

/**
 * Work every node polls the database for (jobs, mail, log streams): `work` runs at start, every
 * `pollMs` and whenever woken, never twice at once; a wake during a run makes one more run after it.
 */
export class PollingLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private halted = false;

  constructor(
    private readonly work: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Set by stop(): the work checks it between its steps. */
  get stopped(): boolean {
    return this.halted;
  }

  get started(): boolean {
    return this.timer !== undefined;
  }

  start(pollMs: number): void {
    this.timer = setInterval(() => this.wake(), pollMs);
    this.timer.unref();
    this.wake();
  }

  wake(): void {
    if (this.halted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.work()
      .catch(this.onError)
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** One run now, after the one in progress, its failure thrown (tests). */
  async runNow(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.work();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Stops polling and waits for the run in progress (the work sees `stopped` at once). */
  async stop(): Promise<void> {
    this.halted = true;
    clearInterval(this.timer);
    await this.running;
  }
}
