/**
 * Runs a custom OAuth2 connection's `fetchUserProfile(accessToken, ctx, callback)` script, as
 * Auth0 does after the upstream code exchange, in QuickJS compiled to WebAssembly on a worker
 * thread (see profile-script-worker.ts for why a worker).
 *
 * What the script can reach: its arguments, the built-ins of a fresh QuickJS context (modern
 * ECMAScript, without typed arrays), `console`, and `request`, whose calls this thread performs with `fetch`
 * under a timeout, a size limit and an http(s)-only rule. Any http(s) host is reachable, internal
 * ones included, as in Auth0: the script is the tenant admin's. No Node API, module loader, file system or host object exists
 * in the VM; only strings travel between it and the host, and the profile comes back as JSON text
 * that is parsed and checked here.
 *
 * Limits, each ending the run with a ProfileScriptError:
 * - CPU: QuickJS's interrupt handler stops the script once its slices of execution add up to
 *   `cpuTimeMs`; this thread also watches the worker's busy time and terminates it a little past
 *   that, for code the handler cannot stop (a slow builtin in a tight loop).
 * - memory: the QuickJS runtime's allocation limit (`memoryBytes`), a hard cap on the worker's
 *   WebAssembly memory behind it, and a stack limit.
 * - wall clock: `wallTimeMs` for the whole run, including waiting for upstream requests, which the
 *   CPU limit does not see because the VM is idle then.
 */
import { redactTokenLike } from '../../logging.js';
import { describeUrl, performHostRequest } from './host-request.js';
import type { FromWorker, ProfileScriptFailure, RequestSpec, RunOutcome, VmLimits } from './protocol.js';
import { pool, type SandboxWorker } from './worker-pool.js';

export type { ProfileScriptFailure } from './protocol.js';

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

/** A profile is stored as user attributes: anything bigger is a script bug, not a profile. */
const MAX_PROFILE_CHARS = 1024 * 1024;

export class ProfileScriptError extends Error {
  override name = 'ProfileScriptError';
  constructor(
    readonly reason: ProfileScriptFailure,
    message: string,
  ) {
    super(message);
  }
}

type Limits = { -readonly [K in keyof typeof DEFAULT_SANDBOX_LIMITS]: number };

/**
 * Runs the script and returns the profile it called back with: a plain object whose `user_id`
 * is a non-empty string (a number is turned into one). Throws ProfileScriptError otherwise.
 */
export async function runFetchUserProfile(
  script: string,
  accessToken: string,
  context: Record<string, unknown>,
  options: SandboxOptions = {},
): Promise<Record<string, unknown>> {
  const limits = resolveLimits(options);
  const started = performance.now();
  try {
    const profileJson = await runInWorker({ script, accessToken, contextJson: JSON.stringify(context ?? {}) }, limits, options);
    return profileFrom(profileJson);
  } catch (error) {
    const message =
      error instanceof ProfileScriptError
        ? error.message
        : `the profile script could not run: ${error instanceof Error ? error.message : String(error)}`;
    // The message may carry the script's own words (callback(new Error(token))), and goes to the log
    // and into the app's error_description: the same redaction as its console output.
    const failure = new ProfileScriptError(
      error instanceof ProfileScriptError ? error.reason : 'script_error',
      redactTokenLike(message, { known: secretsOf(accessToken, JSON.stringify(context ?? {})), maxLength: 1000 }),
    );
    options.log?.('profile script failed', {
      reason: failure.reason,
      error: failure.message,
      durationMs: Math.round(performance.now() - started),
    });
    throw failure;
  }
}

/** Terminates idle sandbox workers, for a clean shutdown. */
export function closeProfileScriptSandbox(): void {
  pool.close();
}

function resolveLimits(options: SandboxOptions): Limits {
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

/** The upstream's tokens the script was given, redacted from its console output whatever their shape. */
function secretsOf(accessToken: string, contextJson: string): string[] {
  const secrets = [accessToken];
  try {
    const context = JSON.parse(contextJson) as Record<string, unknown>;
    for (const [key, value] of Object.entries(context))
      if (/token|secret|code/i.test(key) && typeof value === 'string') secrets.push(value);
  } catch {
    // The context is latchkey's own JSON; nothing more to collect if it is not.
  }
  return secrets;
}

function runInWorker(
  job: { script: string; accessToken: string; contextJson: string },
  limits: Limits,
  options: SandboxOptions,
): Promise<string> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const secrets = secretsOf(job.accessToken, job.contextJson);
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
      ended.abort();
      if (worker) pool.release(worker, reusable);
      if (outcome.ok) resolve(outcome.profileJson);
      else reject(new ProfileScriptError(outcome.reason, outcome.message));
    };
    const wallClock = setTimeout(() => {
      end({ ok: false, reason: 'timeout', message: `the profile script did not finish within ${limits.wallTimeMs} ms` }, false);
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
          options.log?.('profile script request failed', { url: describeUrl(spec.uri, spec.baseUrl), error: result.error.message });
        worker?.post({ type: 'response', runId, requestId, result });
      });
    };

    const onMessage = (message: FromWorker) => {
      if (done || message.type === 'ready' || message.runId !== runId) return;
      if (message.type === 'request') onRequest(message.requestId, message.specJson);
      else if (message.type === 'log')
        options.log?.('profile script console', { line: redactTokenLike(message.line, { known: secrets }) }, 'debug');
      // After an out-of-memory the WebAssembly heap is not trusted with another run.
      else end(message.outcome, message.outcome.ok || message.outcome.reason !== 'memory');
    };

    const onFailure = (error: Error) => {
      const outOfHeap = (error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      end(
        { ok: false, reason: outOfHeap ? 'memory' : 'script_error', message: `the profile script sandbox failed: ${error.message}` },
        false,
      );
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
            end(
              { ok: false, reason: 'timeout', message: `the profile script used more than its ${limits.cpuTimeMs} ms of CPU time` },
              false,
            );
          } else {
            watchdog = setTimeout(watch, watchdogMs - used + 1);
          }
        };
        watchdog = setTimeout(watch, watchdogMs);
        acquired.post({ type: 'run', runId, ...job, limits: vmLimits });
      },
      (error: Error) => {
        end({ ok: false, reason: 'script_error', message: `the profile script sandbox could not start: ${error.message}` }, false);
      },
    );
  });
}

/** The checks Auth0 makes on what the script called back with, plus "plain JSON only". */
function profileFrom(json: string): Record<string, unknown> {
  if (json === '') throw new ProfileScriptError('invalid_profile', 'the profile script called back without a profile');
  if (json.length > MAX_PROFILE_CHARS) {
    throw new ProfileScriptError('invalid_profile', `the profile is larger than ${MAX_PROFILE_CHARS} characters of JSON`);
  }
  let profile: unknown;
  try {
    // A "__proto__" key would become the prototype of any object the profile is assigned into.
    profile = JSON.parse(json, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    throw new ProfileScriptError('invalid_profile', 'the profile is not valid JSON');
  }
  if (profile === null || typeof profile !== 'object' || Array.isArray(profile)) {
    throw new ProfileScriptError(
      'invalid_profile',
      `the profile must be an object, not ${profile === null ? 'null' : Array.isArray(profile) ? 'an array' : typeof profile}`,
    );
  }
  const record = profile as Record<string, unknown>;
  const userId = record.user_id;
  if (userId === undefined || userId === null || userId === '') {
    throw new ProfileScriptError('missing_user_id', 'the profile returned by the script has no user_id');
  }
  if (typeof userId === 'number' && Number.isFinite(userId)) record.user_id = String(userId);
  else if (typeof userId !== 'string') {
    throw new ProfileScriptError(
      'invalid_profile',
      `the profile's user_id must be a string or a number, not ${Array.isArray(userId) ? 'an array' : typeof userId}`,
    );
  }
  return record;
}
