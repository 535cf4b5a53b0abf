/**
 * A few warm sandbox workers, so a login does not pay for a thread and a WebAssembly module
 * (~50 ms) each time. A worker runs one script at a time. It is reused after a run that ended
 * inside QuickJS, except by running out of memory; a run stopped from outside (CPU watchdog, wall
 * clock) or a crash terminates it, and a new one starts on demand. Idle workers are unref'd: they
 * never keep the process alive.
 */
import { availableParallelism } from 'node:os';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { FromWorker, SandboxWorkerData, ToWorker } from './protocol.js';

/** At most this many scripts run at once; further runs wait (within their wall-clock limit). */
const MAX_WORKERS = Math.max(2, Math.min(4, availableParallelism()));
const MAX_IDLE_WORKERS = 2;
/** The worker's own V8 heap (the QuickJS heap lives in WebAssembly memory, limited below). */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 };
/**
 * Hard cap on a worker's WebAssembly memory, behind QuickJS's per-run limit (which misses some
 * allocations): the module's own data and stack plus one run's heap, whatever `memoryBytes` says.
 */
export const WASM_MEMORY_MAX_BYTES = 64 * 1024 * 1024;

export class SandboxWorker {
  private listener: ((message: FromWorker) => void) | undefined;
  private failureListener: ((error: Error) => void) | undefined;
  private exited = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: FromWorker) => this.listener?.(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`the sandbox worker exited (code ${code})`)));
  }

  static start(): Promise<SandboxWorker> {
    return new Promise((resolve, reject) => {
      const sandbox = new SandboxWorker(spawn());
      sandbox.listener = (message) => {
        if (message.type !== 'ready') return;
        sandbox.listener = undefined;
        sandbox.failureListener = undefined;
        resolve(sandbox);
      };
      sandbox.failureListener = reject;
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Routes this worker's messages and failure to one run until the next `attach`. */
  attach(onMessage: (message: FromWorker) => void, onFailure: (error: Error) => void): void {
    this.listener = onMessage;
    this.failureListener = onFailure;
  }

  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** A point to measure `activeSince` from. */
  mark(): EventLoopUtilization {
    return this.worker.performance.eventLoopUtilization();
  }

  /**
   * Milliseconds the worker's thread has spent running rather than waiting for messages since
   * `mark`: its CPU use, and it keeps growing while the thread is stuck inside WebAssembly.
   */
  activeSince(mark: EventLoopUtilization): number {
    return this.worker.performance.eventLoopUtilization(mark).active;
  }

  ref(): void {
    this.worker.ref();
  }

  unref(): void {
    this.worker.unref();
  }

  terminate(): void {
    this.exited = true;
    this.listener = undefined;
    this.failureListener = undefined;
    void this.worker.terminate();
  }

  private fail(error: Error): void {
    if (this.exited) return;
    this.exited = true;
    const listener = this.failureListener;
    this.listener = undefined;
    this.failureListener = undefined;
    listener?.(error);
    pool.forget(this);
  }
}

/**
 * Compiled (dist/*.js) the worker is a sibling file. Run from source under tsx (tests, dev),
 * Node 20 does not apply tsx's `--import` hooks to a worker's entry module, so a one-line
 * bootstrap registers tsx in the worker first.
 */
function spawn(): Worker {
  const workerData: SandboxWorkerData = { wasmMemoryBytes: WASM_MEMORY_MAX_BYTES };
  const options = { resourceLimits: RESOURCE_LIMITS, workerData };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./profile-script-worker.js', import.meta.url), options);
  const entry = new URL('./profile-script-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

interface Waiter {
  resolve: (worker: SandboxWorker) => void;
  reject: (error: Error) => void;
}

class SandboxWorkerPool {
  private readonly idle: SandboxWorker[] = [];
  private readonly waiting: Waiter[] = [];
  private live = 0;

  acquire(signal: AbortSignal): Promise<SandboxWorker> {
    const worker = this.idle.pop();
    if (worker) {
      worker.ref();
      return Promise.resolve(worker);
    }
    if (this.live < MAX_WORKERS) return this.spawn();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.waiting.push(waiter);
      signal.addEventListener(
        'abort',
        () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(new Error('no sandbox worker became free in time'));
        },
        { once: true },
      );
    });
  }

  /** `reusable` only when the run ended normally inside the worker. */
  release(worker: SandboxWorker, reusable: boolean): void {
    if (!worker.alive) return; // it died on its own: forget() has accounted for it
    if (!reusable) {
      worker.terminate();
      this.live--;
      this.serveWaiter();
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter) return waiter.resolve(worker);
    if (this.idle.length >= MAX_IDLE_WORKERS) {
      worker.terminate();
      this.live--;
      return;
    }
    worker.unref();
    this.idle.push(worker);
  }

  /** A worker that died on its own (crash, out of heap). */
  forget(worker: SandboxWorker): void {
    const index = this.idle.indexOf(worker);
    if (index >= 0) this.idle.splice(index, 1);
    this.live--;
    this.serveWaiter();
  }

  /** Terminates the idle workers (busy ones finish their run first). */
  close(): void {
    for (const worker of this.idle.splice(0)) {
      worker.terminate();
      this.live--;
    }
  }

  private serveWaiter(): void {
    const waiter = this.waiting.shift();
    if (!waiter) return;
    this.spawn().then(waiter.resolve, waiter.reject);
  }

  /** A worker that fails to start reports it through fail(), which calls forget(). */
  private spawn(): Promise<SandboxWorker> {
    this.live++;
    return SandboxWorker.start();
  }
}

export const pool = new SandboxWorkerPool();
