/**
 * Worker thread that runs one admin script at a time in QuickJS (WebAssembly): a connection's
 * `fetchUserProfile`, or an Action's handler (the `program` of the run picks the prelude).
 *
 * Why a worker and not the server thread: QuickJS only polls its interrupt handler every ~10,000
 * bytecode branches, so a loop whose body is one slow builtin (`'x'.repeat(1e6)` takes ~10 ms
 * in this build) would run for minutes before the CPU limit could stop it, with the server's
 * event loop blocked the whole time. Here the interrupt handler stops ordinary loops at the CPU
 * limit, and the server thread watches this thread's event-loop time and terminates it when the
 * handler could not (see profile-script.ts). A WebAssembly trap also dies with the worker.
 *
 * Why the synchronous build driven from the host rather than asyncify: the VM never waits for
 * I/O. `request` posts the request to the server thread and returns; when the answer comes back
 * the worker calls the VM's `deliver(id, json)` and then drains QuickJS's job queue. Exceptions
 * from the script's callbacks come straight back out of that call (a promise reaction would
 * swallow them), any number of requests can be in flight, and the release-sync build is smaller
 * and faster than the asyncify one.
 *
 * Memory: `runtime.setMemoryLimit` does not see every allocation in this QuickJS release
 * (`new Array(1e5).fill(1)` in a loop grows past a 4 MB limit to the 2 GB WebAssembly maximum),
 * so the worker's WebAssembly memory gets its own hard maximum; running out of either ends the
 * run with QuickJS's "out of memory" error. Typed arrays are left out of the context: profile
 * scripts do not need them and their buffers escape the limit entirely.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  DefaultIntrinsics,
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
  RELEASE_SYNC,
  shouldInterruptAfterDeadline,
} from 'quickjs-emscripten';
import { ACTION_PRELUDE } from '../../actions/vm-prelude.js';
import type { FromWorker, ProfileScriptFailure, RunOutcome, SandboxProgram, SandboxWorkerData, ToWorker, VmLimits } from './protocol.js';
import { VM_PRELUDE } from './vm-prelude.js';

const MAX_LOG_LINES = 50;
const MAX_LOG_LINE_CHARS = 2000;

const port = parentPort;
if (!port) throw new Error('profile-script-worker must run in a worker thread');
const post = (message: FromWorker) => port.postMessage(message);

interface Description {
  message: string;
  memory: boolean;
  request: boolean;
}

/**
 * One QuickJS runtime and context with the prelude evaluated and the script compiled. A profile
 * script gets a fresh one per run. A deployed Action's is kept warm for the next run of that version
 * (compiled once per deployed version, as Auth0 keeps a warm container: module-level state
 * persists between runs), but only after a run that ended cleanly: nothing pending, nothing in
 * flight. A run that failed, ran out of a limit or left work behind disposes it.
 */
class Vm {
  readonly runtime: QuickJSRuntime;
  readonly vm: QuickJSContext;
  /** Handles that live as long as the context: the prelude's functions, the compiled script. */
  readonly handles: QuickJSHandle[] = [];
  runFn: QuickJSHandle | undefined;
  deliverFn: QuickJSHandle | undefined;
  describeFn: QuickJSHandle | undefined;
  compiled: QuickJSHandle | undefined;
  /** The run the host functions report to. */
  owner: SandboxRun | undefined;
  disposed = false;

  constructor(
    quickjs: QuickJSWASMModule,
    limits: VmLimits,
    readonly key: string | undefined,
    /** The source compiled in this context (a warm one serves only runs of exactly this code). */
    readonly script: string,
  ) {
    this.runtime = quickjs.newRuntime();
    this.runtime.setMemoryLimit(limits.memoryBytes);
    this.runtime.setMaxStackSize(limits.stackBytes);
    this.vm = this.runtime.newContext({ intrinsics: { ...DefaultIntrinsics, TypedArrays: false } });
  }

  get ready(): boolean {
    return this.compiled !== undefined;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const handle of this.handles.reverse()) if (handle.alive) handle.dispose();
    this.vm.dispose();
    this.runtime.dispose();
    if (this.key !== undefined && warm.get(this.key) === this) warm.delete(this.key);
  }
}

/** Warm Action contexts of this worker, least recently used first. */
const warm = new Map<string, Vm>();
const MAX_WARM = 8;

function vmFor(quickjs: QuickJSWASMModule, script: string, limits: VmLimits, warmKey: string | undefined): Vm {
  if (warmKey === undefined) return new Vm(quickjs, limits, undefined, script);
  // The limits are part of the key and the code must be the same: a redeploy never runs stale code.
  const key = `${warmKey}\n${limits.memoryBytes} ${limits.stackBytes}`;
  const found = warm.get(key);
  if (found) {
    warm.delete(key); // taken while it runs; put back (most recent) if it ends cleanly
    if (found.script === script) return found;
    found.dispose();
  }
  return new Vm(quickjs, limits, key, script);
}

function keepWarm(box: Vm): void {
  if (box.key === undefined) return box.dispose();
  warm.set(box.key, box);
  while (warm.size > MAX_WARM) warm.values().next().value?.dispose();
}

class SandboxRun {
  private readonly box: Vm;
  /** Handles of this run only (arguments, results); disposed when it ends. */
  private readonly handles: QuickJSHandle[] = [];
  /** While the prelude and the script are set up, handles belong to the context, not the run. */
  private settingUp = false;
  private cpuUsedMs = 0;
  private cpuExhausted = false;
  /** Set once the outcome is known: the interrupt handler then stops whatever the script still runs. */
  private stopRequested = false;
  private outcome: RunOutcome | undefined;
  private readonly inFlight = new Set<number>();
  private requestCount = 0;
  private logLines = 0;
  private disposed = false;

  constructor(
    quickjs: QuickJSWASMModule,
    readonly runId: number,
    private readonly limits: VmLimits,
    private readonly program: SandboxProgram,
    script: string,
    warmKey: string | undefined,
  ) {
    this.box = vmFor(quickjs, script, limits, warmKey);
    this.box.owner = this;
  }

  private get vm(): QuickJSContext {
    return this.box.vm;
  }

  private get runtime(): QuickJSRuntime {
    return this.box.runtime;
  }

  private get deliverFn(): QuickJSHandle | undefined {
    return this.box.deliverFn;
  }

  private get describeFn(): QuickJSHandle | undefined {
    return this.box.describeFn;
  }

  /** "the profile script" / "the Action", in every message the run produces. */
  private get subject(): string {
    return this.program === 'action' ? 'the Action' : 'the profile script';
  }

  start(script: string, args: [string, string]): void {
    this.slice(() => {
      if (!this.box.ready && !this.setUp(script)) return;
      const { runFn, compiled } = this.box;
      if (!runFn || !compiled) return;
      this.call(runFn, compiled, this.own(this.vm.newString(args[0])), this.own(this.vm.newString(args[1])));
    });
  }

  /** The prelude and the script, in a new context; false when that failed (the outcome says why). */
  private setUp(script: string): boolean {
    const box = this.box;
    this.settingUp = true;
    try {
      const api = this.evaluate(this.program === 'action' ? ACTION_PRELUDE : VM_PRELUDE, 'prelude.js');
      if (!api) {
        this.settle({ ok: false, reason: 'script_error', message: 'the sandbox could not start' });
        return false;
      }
      // The host functions report to whichever run owns the context at the time.
      const hostRequest = this.own(this.vm.newFunction('hostRequest', (id, spec) => box.owner?.onRequest(id, spec)));
      const hostDone = this.own(this.vm.newFunction('hostDone', (kind, payload) => box.owner?.onDone(kind, payload)));
      const hostLog = this.own(this.vm.newFunction('hostLog', (line) => box.owner?.onLog(line)));
      const exports = this.call(api, hostRequest, hostDone, hostLog);
      if (!exports) return false;
      box.runFn = this.own(this.vm.getProp(exports, 'run'));
      box.deliverFn = this.own(this.vm.getProp(exports, 'deliver'));
      box.describeFn = this.own(this.vm.getProp(exports, 'describe'));
      const compiled = this.program === 'action' ? this.compileModule(script) : this.compile(script);
      if (!compiled) return false;
      box.compiled = compiled;
      return true;
    } finally {
      this.settingUp = false;
    }
  }

  onResponse(requestId: number, resultJson: string): void {
    if (this.outcome || !this.inFlight.delete(requestId)) return;
    this.slice(() => {
      if (!this.deliverFn) return;
      const id = this.own(this.vm.newNumber(requestId));
      const result = this.own(this.vm.newString(resultJson));
      this.call(this.deliverFn, id, result);
    });
  }

  /**
   * Admins paste either a function declaration (`function fetchUserProfile(...) {...}`) or the
   * bare function expression Auth0 stores in `scripts.fetchUserProfile`. Parenthesised, both are
   * expressions; source that is not one expression (helpers declared next to it, a trailing `;`)
   * is run as a program that declares `fetchUserProfile`.
   */
  private compile(script: string): QuickJSHandle | undefined {
    const asExpression = this.vm.evalCode(`(\n${script}\n)`, 'fetchUserProfile.js', { type: 'global' });
    if (!asExpression.error) return this.own(asExpression.value);
    const error = this.own(asExpression.error);
    if (!this.describe(error).message.startsWith('SyntaxError')) {
      this.uncaught(error);
      return undefined;
    }
    return this.evaluate(`${script}\n;typeof fetchUserProfile === 'function' ? fetchUserProfile : undefined`, 'fetchUserProfile.js');
  }

  /**
   * An Action is a CommonJS module body: it assigns `exports.onExecute...` (or `module.exports`).
   * Wrapped in a function so its top-level declarations stay local to it.
   */
  private compileModule(script: string): QuickJSHandle | undefined {
    return this.evaluate(
      `(function () { var module = { exports: {} }; var exports = module.exports;\n${script}\n;return module.exports;\n})()`,
      'action.js',
    );
  }

  /**
   * Runs VM code under what is left of the CPU budget, then the jobs it queued (promise
   * reactions), then decides whether the run is over. Time is measured around the whole slice,
   * so host work done on the script's behalf (JSON of a response) counts against it too.
   */
  private slice(body: () => void): void {
    const remaining = this.limits.cpuTimeMs - this.cpuUsedMs;
    if (remaining <= 0) this.cpuExhausted = true;
    const pastDeadline = shouldInterruptAfterDeadline(Date.now() + Math.max(0, remaining));
    this.runtime.setInterruptHandler(() => {
      if (this.stopRequested) return true;
      if (pastDeadline(this.runtime)) this.cpuExhausted = true;
      return this.cpuExhausted;
    });
    const started = performance.now();
    try {
      if (!this.cpuExhausted) {
        body();
        while (!this.outcome && !this.cpuExhausted && this.runtime.hasPendingJob()) {
          const jobs = this.runtime.executePendingJobs();
          if (jobs.error) this.uncaught(this.own(jobs.error));
        }
      }
    } finally {
      this.cpuUsedMs += performance.now() - started;
    }
    if (this.cpuExhausted) {
      this.settle({
        ok: false,
        reason: 'timeout',
        message: `${this.subject} used more than its ${this.limits.cpuTimeMs} ms of CPU time`,
      });
    }
    // Nothing left that could call back: no request in flight and no queued job.
    if (!this.outcome && this.inFlight.size === 0 && !this.runtime.hasPendingJob()) {
      this.settle({
        ok: false,
        reason: 'callback_not_called',
        message: this.notFinished(),
      });
    }
    if (this.outcome) this.finish();
  }

  private notFinished(): string {
    if (this.program === 'action') return 'the Action never finished: its promise is still pending with nothing left to wait for';
    return this.requestCount === 0
      ? 'the profile script returned without calling callback'
      : 'the profile script never called callback (its requests have all completed)';
  }

  private evaluate(code: string, filename: string): QuickJSHandle | undefined {
    const result = this.vm.evalCode(code, filename, { type: 'global' });
    if (result.error) {
      this.uncaught(this.own(result.error));
      return undefined;
    }
    return this.own(result.value);
  }

  private call(fn: QuickJSHandle, ...args: QuickJSHandle[]): QuickJSHandle | undefined {
    const result = this.vm.callFunction(fn, this.vm.undefined, ...args);
    if (result.error) {
      this.uncaught(this.own(result.error));
      return undefined;
    }
    return this.own(result.value);
  }

  /** Something the script threw and did not catch (or QuickJS's own interrupt / out-of-memory). */
  private uncaught(error: QuickJSHandle): void {
    if (this.outcome || this.stopRequested || this.cpuExhausted) return;
    const description = this.describe(error);
    if (this.cpuExhausted) return; // reading the error ran out the clock (a getter, a proxy)
    this.settle(
      description.memory
        ? { ok: false, reason: 'memory', message: this.outOfMemory(description) }
        : { ok: false, reason: 'script_error', message: `${this.subject} failed: ${description.message}` },
    );
  }

  private describe(error: QuickJSHandle): Description {
    const fallback: Description = { message: 'an error that could not be read', memory: false, request: false };
    if (!this.describeFn) return fallback;
    const result = this.vm.callFunction(this.describeFn, this.vm.undefined, error);
    if (result.error) {
      this.own(result.error);
      return fallback;
    }
    return parseDescription(this.readString(this.own(result.value))) ?? fallback;
  }

  onRequest(idHandle: QuickJSHandle, specHandle: QuickJSHandle): void {
    if (this.outcome) return;
    this.requestCount++;
    if (this.requestCount > this.limits.maxRequests) {
      this.settle({
        ok: false,
        reason: 'request_failed',
        message: `${this.subject} made more than ${this.limits.maxRequests} requests`,
      });
      return;
    }
    const requestId = this.vm.typeof(idHandle) === 'number' ? this.vm.getNumber(idHandle) : Number.NaN;
    const specJson = this.readString(specHandle);
    if (!Number.isSafeInteger(requestId) || specJson === undefined) return;
    this.inFlight.add(requestId);
    post({ type: 'request', runId: this.runId, requestId, specJson });
  }

  onDone(kindHandle: QuickJSHandle, payloadHandle: QuickJSHandle): void {
    if (this.outcome) return;
    const kind = this.readString(kindHandle);
    const payload = this.readString(payloadHandle) ?? '';
    if (kind === 'profile' || kind === 'result') return this.settle({ ok: true, resultJson: payload });
    if (kind === 'invalid') return this.settle({ ok: false, reason: 'invalid_profile', message: payload });
    // 'error': callback(err); 'thrown': an async fetchUserProfile rejected.
    const description = parseDescription(payload) ?? { message: 'an unreadable error', memory: false, request: false };
    const reason: ProfileScriptFailure = description.memory ? 'memory' : description.request ? 'request_failed' : 'script_error';
    const prefix =
      reason === 'request_failed'
        ? `a request made by ${this.subject} failed`
        : kind === 'thrown'
          ? `${this.subject} failed`
          : `${this.subject} called back with an error`;
    this.settle({ ok: false, reason, message: reason === 'memory' ? this.outOfMemory(description) : `${prefix}: ${description.message}` });
  }

  onLog(lineHandle: QuickJSHandle): void {
    if (this.outcome || this.logLines >= MAX_LOG_LINES) return;
    this.logLines++;
    const line = this.readString(lineHandle) ?? '';
    post({ type: 'log', runId: this.runId, line: line.length > MAX_LOG_LINE_CHARS ? `${line.slice(0, MAX_LOG_LINE_CHARS)}…` : line });
  }

  private outOfMemory(description: Description): string {
    const limit = formatBytes(this.limits.memoryBytes);
    return `${this.subject} ran out of memory (limit ${limit})${description.message === 'null' ? ' or threw null' : ''}`;
  }

  private settle(outcome: RunOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.stopRequested = true;
  }

  private finish(): void {
    // Only called at the end of a slice: never while the VM is on the stack.
    if (this.disposed || !this.outcome) return;
    this.disposed = true;
    for (const handle of this.handles.reverse()) if (handle.alive) handle.dispose();
    const box = this.box;
    box.owner = undefined;
    const clean = this.outcome.ok && box.ready && this.inFlight.size === 0 && !this.runtime.hasPendingJob();
    if (clean) keepWarm(box);
    else box.dispose();
    if (current === this) current = undefined;
    post({ type: 'done', runId: this.runId, outcome: this.outcome });
  }

  private readString(handle: QuickJSHandle): string | undefined {
    return this.vm.typeof(handle) === 'string' ? this.vm.getString(handle) : undefined;
  }

  private own(handle: QuickJSHandle): QuickJSHandle {
    (this.settingUp ? this.box.handles : this.handles).push(handle);
    return handle;
  }
}

function parseDescription(json: string | undefined): Description | undefined {
  if (json === undefined) return undefined;
  try {
    const value = JSON.parse(json) as Partial<Description>;
    if (typeof value.message !== 'string') return undefined;
    return { message: value.message, memory: value.memory === true, request: value.request === true };
  } catch {
    return undefined;
  }
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MB` : `${bytes} bytes`;
}

const WASM_PAGE_BYTES = 64 * 1024;
const { wasmMemoryBytes } = workerData as SandboxWorkerData;
const wasmMemory = new WebAssembly.Memory({
  initial: 256, // the 16 MiB the release-sync build declares
  maximum: Math.max(256, Math.floor(wasmMemoryBytes / WASM_PAGE_BYTES)),
});
const quickjs = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmMemory }));
let current: SandboxRun | undefined;

port.on('message', (message: ToWorker) => {
  if (message.type === 'run') {
    current = new SandboxRun(quickjs, message.runId, message.limits, message.program, message.script, message.warmKey);
    current.start(message.script, message.args);
  } else if (message.type === 'response' && current?.runId === message.runId) {
    current.onResponse(message.requestId, JSON.stringify(message.result));
  }
});
post({ type: 'ready' });
