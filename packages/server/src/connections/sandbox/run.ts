/**
 * The server side of one sandboxed run, shared by profile scripts and Actions: takes a warm
 * worker, enforces the wall clock and the CPU watchdog, performs the script's requests with their
 * limits, forwards its console output, and settles with the JSON the script produced.
 *
 * Limits, each ending the run with a SandboxError:
 * - CPU: QuickJS's interrupt handler stops the script once its slices of execution add up to
 *   `cpuTimeMs`; this thread also watches the worker's busy time and terminates it a little past
 *   that, for code the handler cannot stop (a slow builtin in a tight loop).
 * - memory: the QuickJS runtime's allocation limit (`memoryBytes`), a hard cap on the worker's
 *   WebAssembly memory behind it, and a stack limit.
 * - wall clock: `wallTimeMs` for the whole run, including waiting for upstream requests, which the
 *   CPU limit does not see because the VM is idle then.
 */
import { redactTokenLike } from '../../logging.js';
import { countSandboxRun } from '../../metrics.js';
import { describeUrl, performHostRequest } from './host-request.js';
import type { FromWorker, ProfileScriptFailure, RequestSpec, RunOutcome, SandboxProgram, VmLimits } from './protocol.js';
import { pool, type SandboxWorker } from './worker-pool.js';

export interface SandboxOptions {
  /** Script execution time, summed over the run (default 1 000 ms). */
  cpuTimeMs?: number;
  /** The whole run, including upstream requests (default 10 000 ms). */
  wallTimeMs?: number;
  /** QuickJS heap limit (default 16 MiB; the worker's 64 MiB WebAssembly memory bounds any value). */
  memoryBytes?: number;
  /**
   * QuickJS stack limit (default 256 KiB, ~1 500 frames; at most 1 MiB, since QuickJS's frames
   * also use the worker's 4 MiB native stack and overflowing that kills the worker).
   */
  stackBytes?: number;
  /** Per `request` call (default 5 000 ms; a smaller `timeout` option from the script wins). */
  requestTimeoutMs?: number;
  /** Per response body (default 1 MiB). */
  maxResponseBytes?: number;
  /** `request` calls per run (default 10). */
  maxRequests?: number;
  /** Performs the script's requests (default: global fetch); tests pass their own. */
  fetch?: typeof fetch;
  /**
   * Failures and failed requests (level `warn`), and the script's console output (level `debug`:
   * scripts print tokens while being written; lines are truncated and token-like values redacted).
   */
  log?: (message: string, data: Record<string, unknown>, level?: 'warn' | 'debug') => void;
}

export const DEFAULT_SANDBOX_LIMITS = {
  cpuTimeMs: 1_000,
  wallTimeMs: 10_000,
  memoryBytes: 16 * 1024 * 1024,
  stackBytes: 256 * 1024,
  requestTimeoutMs: 5_000,
  maxResponseBytes: 1024 * 1024,
  maxRequests: 10,
} as const;

const MAX_STACK_BYTES = 1024 * 1024;

/** A run that did not produce its result; `name` stays ProfileScriptError, the name it has always had in logs. */
export class SandboxError extends Error {
  override name = 'ProfileScriptError';
  constructor(
    readonly reason: ProfileScriptFailure,
    message: string,
  ) {
    super(message);
  }
}

export type SandboxLimits = { -readonly [K in keyof typeof DEFAULT_SANDBOX_LIMITS]: number };

export interface SandboxJob {
  program: SandboxProgram;
  script: string;
  args: [string, string];
  /** "the profile script", "the Action \"name\"": starts the messages of failures and log lines. */
  subject: string;
  /** Values redacted from console lines whatever their shape (tokens, secrets). */
  secrets: string[];
  /**
   * An Action's id and deployed version: its context stays compiled and warm for the next run of that
   * version on the worker (never shared with another Action, even one with the same code).
   */
  warmKey?: string;
  /** Each console line of the script, already truncated and redacted (besides the debug log). */
  onLog?: (line: string) => void;
}

export function resolveLimits(options: SandboxOptions): SandboxLimits {
  const pick = (value: number | undefined, fallback: number) =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
  const d = DEFAULT_SANDBOX_LIMITS;
  return {
    cpuTimeMs: pick(options.cpuTimeMs, d.cpuTimeMs),
    wallTimeMs: pick(options.wallTimeMs, d.wallTimeMs),
    memoryBytes: pick(options.memoryBytes, d.memoryBytes),
    stackBytes: Math.min(pick(options.stackBytes, d.stackBytes), MAX_STACK_BYTES),
    requestTimeoutMs: pick(options.requestTimeoutMs, d.requestTimeoutMs),
    maxResponseBytes: pick(options.maxResponseBytes, d.maxResponseBytes),
    maxRequests: pick(options.maxRequests, d.maxRequests),
  };
}

let nextRunId = 1;
/** The abort reason of a finished run (a bare abort() would build a DOMException, with its stack, every run). */
const RUN_ENDED = new Error('the sandbox run ended');

/** Resolves with the JSON text the script produced; rejects with a SandboxError. */
export function runInWorker(job: SandboxJob, limits: SandboxLimits, options: SandboxOptions): Promise<string> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const { secrets, subject } = job;
  const vmLimits: VmLimits = {
    cpuTimeMs: limits.cpuTimeMs,
    memoryBytes: limits.memoryBytes,
    stackBytes: limits.stackBytes,
    maxRequests: limits.maxRequests,
  };
  // The in-VM interrupt normally fires first; this leaves room for the worker's own overhead.
  const watchdogMs = limits.cpuTimeMs + 100 + Math.round(limits.cpuTimeMs / 10);

  return new Promise((resolve, reject) => {
    const runId = nextRunId++;
    const ended = new AbortController();
    let worker: SandboxWorker | undefined;
    let watchdog: NodeJS.Timeout | undefined;
    let requests = 0;
    let done = false;

    const end = (outcome: RunOutcome, reusable: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(wallClock);
      clearTimeout(watchdog);
      ended.abort(RUN_ENDED);
      if (worker) pool.release(worker, reusable);
      countSandboxRun(job.program === 'action' ? 'action' : 'profile_script', outcome.ok ? 'ok' : outcome.reason);
      if (outcome.ok) resolve(outcome.resultJson);
      else reject(new SandboxError(outcome.reason, outcome.message));
    };
    const wallClock = setTimeout(() => {
      end({ ok: false, reason: 'timeout', message: `${subject} did not finish within ${limits.wallTimeMs} ms` }, false);
    }, limits.wallTimeMs);

    const onRequest = (requestId: number, specJson: string) => {
      if (++requests > limits.maxRequests) return; // the worker ends the run for this already
      let spec: RequestSpec;
      try {
        spec = JSON.parse(specJson) as RequestSpec;
      } catch {
        spec = {};
      }
      void performHostRequest(
        spec,
        { timeoutMs: limits.requestTimeoutMs, maxResponseBytes: limits.maxResponseBytes },
        fetchImpl,
        ended.signal,
      ).then((result) => {
        if (done) return;
        if ('error' in result)
          options.log?.(`${job.program === 'action' ? 'Action' : 'profile script'} request failed`, {
            url: describeUrl(spec.uri, spec.baseUrl),
            error: result.error.message,
          });
        worker?.post({ type: 'response', runId, requestId, result });
      });
    };

    const onMessage = (message: FromWorker) => {
      if (done || message.type === 'ready' || message.runId !== runId) return;
      if (message.type === 'request') onRequest(message.requestId, message.specJson);
      else if (message.type === 'log') {
        const line = redactTokenLike(message.line, { known: secrets });
        job.onLog?.(line);
        options.log?.(`${job.program === 'action' ? 'Action' : 'profile script'} console`, { line }, 'debug');
      }
      // After an out-of-memory the WebAssembly heap is not trusted with another run.
      else end(message.outcome, message.outcome.ok || message.outcome.reason !== 'memory');
    };

    const onFailure = (error: Error) => {
      const outOfHeap = (error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      end({ ok: false, reason: outOfHeap ? 'memory' : 'script_error', message: `${subject} sandbox failed: ${error.message}` }, false);
    };

    pool.acquire(ended.signal).then(
      (acquired) => {
        if (done) return pool.release(acquired, true);
        worker = acquired;
        acquired.attach(onMessage, onFailure);
        const mark = acquired.mark();
        const watch = () => {
          const used = acquired.activeSince(mark);
          if (used >= watchdogMs) {
            end({ ok: false, reason: 'timeout', message: `${subject} used more than its ${limits.cpuTimeMs} ms of CPU time` }, false);
          } else {
            watchdog = setTimeout(watch, watchdogMs - used + 1);
          }
        };
        watchdog = setTimeout(watch, watchdogMs);
        const warmKey = job.warmKey !== undefined ? { warmKey: job.warmKey } : {};
        acquired.post({ type: 'run', runId, program: job.program, script: job.script, args: job.args, limits: vmLimits, ...warmKey });
      },
      (error: Error) => {
        end({ ok: false, reason: 'script_error', message: `${subject} sandbox could not start: ${error.message}` }, false);
      },
    );
  });
}
