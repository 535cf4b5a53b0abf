import type { BackgroundRefreshOptions, Timers } from './config.js';

/** What one background refresh came to: DesktopAuth decides, this class only keeps time. */
export type RefreshOutcome = 'refreshed' | 'retry' | 'stop';

export interface BackgroundRefreshContext {
  timers: Timers;
  now: () => number;
  random: () => number;
  settings: BackgroundRefreshOptions;
  leewaySeconds: number;
  /** Refreshes the default access token; a 'refreshed' outcome is followed by a new schedule(). */
  refresh: () => Promise<RefreshOutcome>;
}

const FIRST_RETRY_SECONDS = 5;

/**
 * One timer for a long-running app's session. It never sleeps longer than `checkEverySeconds` and
 * compares the wall clock with the due time on every wake, because a suspended machine runs no
 * timers: after resume the wall clock has jumped, and the first wake refreshes at once.
 */
export class BackgroundRefresh {
  readonly #ctx: BackgroundRefreshContext;
  readonly #aheadMs: number;
  readonly #jitterMs: number;
  readonly #checkMs: number;
  readonly #maxRetryMs: number;
  #handle: unknown;
  #dueAt: number | undefined;
  #failures = 0;

  constructor(ctx: BackgroundRefreshContext) {
    this.#ctx = ctx;
    const s = ctx.settings;
    this.#aheadMs = Math.max(seconds(s, 'aheadSeconds', 300, 0), ctx.leewaySeconds) * 1000;
    this.#jitterMs = seconds(s, 'jitterSeconds', 60, 0) * 1000;
    // Zero (or NaN) here would re-arm a 0 ms timer in a loop: a busy CPU, and a refresh storm while offline.
    this.#checkMs = seconds(s, 'checkEverySeconds', 30, 1) * 1000;
    this.#maxRetryMs = seconds(s, 'maxRetrySeconds', 300, 1) * 1000;
  }

  /** When the refresh is due (ms since the epoch), for tests and status displays. */
  get dueAt(): number | undefined {
    return this.#dueAt;
  }

  /**
   * A token valid from `issuedAt` to `expiresAt` was obtained: refresh it `ahead` (minus jitter)
   * before it expires, but never in its first half, so a short-lived token does not loop.
   */
  schedule(issuedAt: number, expiresAt: number): void {
    this.#failures = 0;
    if (expiresAt <= issuedAt) return this.stop();
    const early = this.#aheadMs + this.#ctx.random() * this.#jitterMs;
    this.#arm(Math.max(issuedAt + (expiresAt - issuedAt) / 2, expiresAt - early));
  }

  /** The refresh failed but the session stands (offline): back off 5 s, 10 s, ... up to the maximum, jittered. */
  retryLater(): void {
    const backoff = Math.min(this.#maxRetryMs, FIRST_RETRY_SECONDS * 1000 * 2 ** this.#failures);
    this.#failures += 1;
    this.#arm(this.#ctx.now() + backoff * (0.5 + this.#ctx.random() / 2));
  }

  stop(): void {
    if (this.#handle !== undefined) this.#ctx.timers.clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#dueAt = undefined;
  }

  #arm(dueAt: number): void {
    this.stop();
    this.#dueAt = dueAt;
    this.#sleep();
  }

  #sleep(): void {
    const wait = Math.max(0, Math.min(this.#dueAt! - this.#ctx.now(), this.#checkMs));
    this.#handle = this.#ctx.timers.setTimeout(() => void this.#wake(), wait);
  }

  async #wake(): Promise<void> {
    this.#handle = undefined;
    if (this.#dueAt === undefined) return;
    if (this.#ctx.now() < this.#dueAt) return this.#sleep();
    this.#dueAt = undefined;
    const outcome = await this.#ctx.refresh().catch((): RefreshOutcome => 'retry');
    // 'refreshed' already scheduled the next one; a newer schedule() or stop() may have run meanwhile.
    if (outcome === 'retry' && this.#dueAt === undefined && this.#handle === undefined) this.retryLater();
    else if (outcome === 'stop') this.stop();
  }
}

function seconds(settings: BackgroundRefreshOptions, key: keyof BackgroundRefreshOptions, fallback: number, min: number): number {
  const value = settings[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw new TypeError(`backgroundRefresh.${key} must be a number of seconds of at least ${min}.`);
  return value;
}

/** The platform's timers, unref'd in Node so a background refresh never keeps a CLI alive. */
export const platformTimers: Timers = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms) as unknown as { unref?: () => void };
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
