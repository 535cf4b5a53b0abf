/**
 * `offline`: signed in, but the last refresh could not reach the server. The session and the stored
 * refresh token are kept, cached access tokens are still handed out while valid, and the background
 * refresh retries with backoff; the status returns to `signed-in` on the next success.
 */
export type AuthStatus = 'signed-out' | 'signing-in' | 'signed-in' | 'offline';

export interface AuthEvents {
  /** The session started, ended or is being established. */
  status: AuthStatus;
  /** Tokens were refreshed (and, with rotation, the new refresh token already stored). */
  refreshed: { audience: string | undefined };
}

type Listener<T> = (value: T) => void;

/** A typed emitter small enough for the core bundle; a listener that throws does not stop the others. */
export class Emitter<Events> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<Events[K]>)(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
