import type { Storage } from '../storage/types.js';

/** What a limiter answers for one hit: what the X-RateLimit-* and Retry-After headers need. */
export interface RateLimitAnswer {
  allowed: boolean;
  remaining: number;
  resetAt: number;
}

/**
 * A fixed-window counter per key (IP), in memory: each node enforces the limit alone, which bounds
 * abuse without a shared store. Old windows are dropped as keys are seen again or the map grows.
 */
export class FixedWindowLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Counts one hit; the answer carries what the X-RateLimit-* headers need. */
  hit(key: string): RateLimitAnswer {
    const now = this.clock();
    const start = now - (now % this.windowMs);
    let window = this.windows.get(key);
    if (!window || window.start !== start) {
      if (this.windows.size >= this.maxKeys) this.prune(start);
      window = { start, count: 0 };
      this.windows.set(key, window);
    }
    window.count++;
    return { allowed: window.count <= this.limit, remaining: Math.max(0, this.limit - window.count), resetAt: start + this.windowMs };
  }

  private prune(currentStart: number): void {
    for (const [key, window] of this.windows) if (window.start !== currentStart) this.windows.delete(key);
    if (this.windows.size >= this.maxKeys) this.windows.clear();
  }
}

/**
 * One fixed-window limit for the whole tenant, counted in the database so that every node shares it:
 * more source addresses (or more nodes) do not buy more. Windows are aligned on the clock, so every
 * node agrees on when one ends.
 */
export class SharedWindowLimiter {
  readonly limit: number;

  constructor(
    private readonly store: Pick<Storage, 'rateLimits'>,
    private readonly options: { key: string; limit: number; windowMs: number; clock: () => number },
  ) {
    this.limit = options.limit;
  }

  async hit(): Promise<RateLimitAnswer> {
    const { key, windowMs, clock } = this.options;
    const now = clock();
    const start = now - (now % windowMs);
    const hits = await this.store.rateLimits.hit(key, new Date(start).toISOString());
    return { allowed: hits <= this.limit, remaining: Math.max(0, this.limit - hits), resetAt: start + windowMs };
  }
}
