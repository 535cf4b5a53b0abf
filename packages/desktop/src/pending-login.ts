import { DesktopAuthError, StateMismatch } from './errors.js';
import type { UserProfile } from './id-token.js';
import type { LoginOutcome } from './redirect.js';

/**
 * One login() waiting for its callback. It accepts the first callback only, and only once armed
 * with the request it belongs to; `result` settles as that callback's completion does.
 */
export class PendingLogin {
  /** Set when armed: handleRedirect() matches URLs against it. */
  redirectUri: string | undefined;
  readonly result: Promise<UserProfile>;
  #complete: ((callbackUrl: string) => Promise<UserProfile>) | undefined;
  #completion: Promise<UserProfile> | undefined;
  #settle!: (completion: Promise<UserProfile>) => void;

  constructor(readonly controller: AbortController) {
    this.result = new Promise((resolve) => (this.#settle = resolve));
    // A callback can fail before login() awaits the result (a forged one while the browser opens).
    this.result.catch(() => undefined);
  }

  arm(redirectUri: string, complete: (callbackUrl: string) => Promise<UserProfile>): void {
    this.redirectUri = redirectUri;
    this.#complete = complete;
  }

  cancel(reason: Error): void {
    this.controller.abort(reason);
  }

  /** The redirect strategies call this; the outcome is what a loopback page shows. */
  readonly deliver = async (callbackUrl: string): Promise<LoginOutcome> => {
    if (this.#completion)
      return { ok: false, error: new DesktopAuthError('duplicate_callback', 'This sign-in already received its response.') };
    // Before the request exists a callback cannot be ours; it does not end the login either.
    if (!this.#complete || this.controller.signal.aborted) return { ok: false, error: new StateMismatch() };
    this.#completion = this.#complete(callbackUrl);
    this.#settle(this.#completion);
    return this.#completion.then(
      (user): LoginOutcome => ({ ok: true, user }),
      (error: Error): LoginOutcome => ({ ok: false, error }),
    );
  };
}
