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
  hit(key: string): { allowed: boolean; remaining: number; resetAt: number } {
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
