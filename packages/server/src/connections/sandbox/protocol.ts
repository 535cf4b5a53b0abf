/**
 * Messages between the server thread and a sandbox worker. Only structured-clone data crosses,
 * and everything the script produced travels as JSON text the server parses and checks itself.
 */

export type ProfileScriptFailure =
  | 'script_error'
  | 'timeout'
  | 'memory'
  | 'missing_user_id'
  | 'invalid_profile'
  | 'callback_not_called'
  | 'request_failed';

export interface SandboxWorkerData {
  /** Hard maximum of the worker's WebAssembly memory, whatever QuickJS's own accounting says. */
  wasmMemoryBytes: number;
}

/** The limits the worker enforces inside QuickJS for one run. */
export interface VmLimits {
  cpuTimeMs: number;
  memoryBytes: number;
  stackBytes: number;
  maxRequests: number;
}

/** What the script asked `request` to do, as the script passed it (checked on the server side). */
export interface RequestSpec {
  method?: unknown;
  uri?: unknown;
  baseUrl?: unknown;
  headers?: unknown;
  qs?: unknown;
  body?: unknown;
  form?: unknown;
  json?: unknown;
  auth?: unknown;
  timeout?: unknown;
  followRedirect?: unknown;
  followAllRedirects?: unknown;
}

/** What the VM's `request` callback receives: `(err)` or `(null, response, body)`. */
export type RequestResult =
  | { error: { message: string; code?: string } }
  | { response: { statusCode: number; statusMessage: string; headers: Record<string, string | string[]>; body: string } };

export type RunOutcome = { ok: true; resultJson: string } | { ok: false; reason: ProfileScriptFailure; message: string };

/**
 * What the worker runs: a connection's `fetchUserProfile(accessToken, ctx, callback)` (args: the
 * token, the context as JSON), or an Action module's `exports[handler](event, api)` (args: the
 * handler's name, the event as JSON), each with its own prelude (see vm-prelude.ts, actions/).
 */
export type SandboxProgram = 'profile' | 'action';

export type ToWorker =
  | {
      type: 'run';
      runId: number;
      program: SandboxProgram;
      script: string;
      args: [string, string];
      limits: VmLimits;
      /** Keep the compiled context warm under this key (an Action's id and deployed version); none: a fresh one. */
      warmKey?: string;
    }
  | { type: 'response'; runId: number; requestId: number; result: RequestResult };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'request'; runId: number; requestId: number; specJson: string }
  | { type: 'log'; runId: number; line: string }
  | { type: 'done'; runId: number; outcome: RunOutcome };
