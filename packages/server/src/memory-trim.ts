/**
 * Gives memory back once a busy period is over. Under allocation-heavy work (a burst of token
 * requests, an import job) V8 grows its young generation and old space to tens of MB each and keeps
 * the pages when the work stops: its memory reducer does not run on a server that merely went quiet
 * (measured: a PostgreSQL server stayed at 308 MB for 45 s after a benchmark, 196 MB of it V8 pages,
 * while its live heap was about 25 MB). So when the event loop was busy and has then been idle for a
 * whole interval, one full collection runs (tens of ms, at a moment nothing waits for the loop) and
 * V8 returns the empty pages, its young generation included.
 *
 * Capping the young generation instead (`--max-semi-space-size`) also bounds the peak, but costs
 * throughput under load and can only be set on node's command line; both can be combined.
 */
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

type FullGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** Busy: the loop worked this share of an interval. Idle: under the second share. */
const BUSY_UTILIZATION = 0.05;
const IDLE_UTILIZATION = 0.01;
/**
 * Below this much committed heap a collection would give back too little to be worth it (an idle
 * server's heap is 20-30 MB). Live and dead objects cannot be told apart before collecting.
 */
const MIN_COMMITTED_BYTES = 64 * 1024 * 1024;

/**
 * V8's collector as a function, without node's `--expose-gc` on the command line: the flag is set for
 * the moment it takes a fresh context to pick `gc` up, as node's documentation of
 * v8.setFlagsFromString shows. Undefined if this V8 refuses.
 */
function fullGc(): FullGc | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as FullGc;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as FullGc) : undefined;
  } catch {
    return undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** The heap's memory in RAM: live objects, garbage not yet collected and empty pages V8 keeps. */
export const committedHeapBytes = (): number => v8.getHeapStatistics().total_physical_size;

export interface MemoryTrim {
  stop(): void;
  /** Collections run so far (tests and the debug log). */
  readonly trims: number;
}

/**
 * Checks the event loop every `idleSeconds`; after a busy interval followed by an idle one, collects
 * once if the heap holds enough memory. 0 turns it off. The timer never keeps the process alive.
 */
export function startMemoryTrim(idleSeconds: number, log?: (freedBytes: number, ms: number) => void): MemoryTrim {
  const state = { trims: 0, stop: () => {} };
  const gc = idleSeconds > 0 ? fullGc() : undefined;
  if (!gc) return state;
  let last = performance.eventLoopUtilization();
  let busySinceTrim = false;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (utilization >= BUSY_UTILIZATION) busySinceTrim = true;
    else if (utilization < IDLE_UTILIZATION && busySinceTrim) {
      busySinceTrim = false;
      const before = committedHeapBytes();
      if (before < MIN_COMMITTED_BYTES) return;
      const started = performance.now();
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      state.trims++;
      log?.(before - committedHeapBytes(), performance.now() - started);
    }
  }, idleSeconds * 1000);
  timer.unref();
  state.stop = () => clearInterval(timer);
  return state;
}
