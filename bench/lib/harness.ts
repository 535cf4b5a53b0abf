/**
 * What every benchmark script needs around the load itself: child servers (optionally pinned to a
 * core), clean-up of children and temporary state on success, failure and Ctrl-C, readings from
 * /proc, small HTTP helpers and the printed tables.
 *
 * Importing this module installs the exit and signal handlers, so that a benchmark interrupted at
 * any point still stops its servers and removes its temporary data.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const serverDir = resolve(benchDir, '../packages/server');

export function positiveInteger(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${text}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Clean-up: children and temporary state are registered as they are made and undone in reverse,
// on success, on failure and on Ctrl-C.

const cleanups: Array<{ what: string; run: () => Promise<void> | void }> = [];
const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Registers something to undo; clean-up runs the most recent registration first. */
export function onCleanUp(what: string, run: () => Promise<void> | void): void {
  cleanups.push({ what, run });
}

export async function cleanUp(): Promise<void> {
  for (let entry = cleanups.pop(); entry; entry = cleanups.pop()) {
    try {
      await entry.run();
    } catch (err) {
      console.error(`clean-up failed (${entry.what}): ${(err as Error).message}`);
    }
  }
}

// Last resort if the process exits without awaiting cleanUp (e.g. an exception inside a callback).
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping servers and removing temporary data`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/**
 * Runs a benchmark's main function, then cleans up and exits with its code (1 if it threw; the
 * error's message is printed, not its stack: the messages say what went wrong and where).
 */
export async function runBenchmark(main: () => Promise<number>): Promise<never> {
  let exitCode = 1;
  try {
    exitCode = await main();
  } catch (err) {
    console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await cleanUp();
  }
  process.exit(exitCode);
}

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  onCleanUp(`remove ${dir}`, () => {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  });
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Child servers

export interface ServerProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last few kilobytes of its stdout and stderr, shown when something goes wrong. */
  output(): string;
  /** Set when it exits without being asked to. */
  exitedEarly(): string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts `node script ...args` as a child, pinned to `core` with taskset (a taskset CPU list such
 * as "0"), or free to run on every core when `core` is undefined. Stopped on clean-up.
 */
export function startPinned(name: string, script: string, scriptArgs: string[], env: NodeJS.ProcessEnv, core?: string): ServerProcess {
  // taskset execs node, so the pid is node's own and /proc/<pid>/status describes the server.
  const [command, commandArgs] =
    core === undefined ? [process.execPath, [script, ...scriptArgs]] : ['taskset', ['-c', core, process.execPath, script, ...scriptArgs]];
  const child = spawn(command, commandArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.once('error', (err) => {
    output += `\n${err.message}`;
  });
  if (child.pid === undefined)
    throw new Error(`${name}: could not spawn ${command}${core === undefined ? '' : ' (is util-linux installed?)'}`);
  running.add(child);
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let stopping = false;
  let earlyExit: string | undefined;
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      if (!stopping) earlyExit = `exited with ${signal ?? `code ${code}`}`;
      resolveExit();
    });
  });
  const server: ServerProcess = {
    name,
    pid: child.pid,
    child,
    output: () => output,
    exitedEarly: () => earlyExit,
    async stop() {
      if (!running.has(child)) return;
      stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  onCleanUp(`stop ${name}`, () => server.stop());
  return server;
}

export function failWithOutput(server: ServerProcess, message: string): never {
  throw new Error(`${server.name}: ${message}\n--- ${server.name} output ---\n${server.output() || '(none)'}\n---`);
}

/** Throws (with the server's output) if the server exited while `what` was going on. */
export function expectAlive(server: ServerProcess, what: string): void {
  const early = server.exitedEarly();
  if (early) failWithOutput(server, `${early} ${what}`);
}

/** Polls until `url` answers 200; returns milliseconds since `spawnedAt`. */
export async function waitForOk(server: ServerProcess, url: string, spawnedAt: number): Promise<number> {
  const deadline = spawnedAt + 30_000;
  while (performance.now() < deadline) {
    expectAlive(server, `before answering ${url}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - spawnedAt;
    } catch {
      // Not listening (or not answering) yet.
    }
    await sleep(5);
  }
  failWithOutput(server, `${url} did not answer 200 within 30 s`);
}

/**
 * Moves a running process, all its threads, to the taskset CPU list `cores` ("0", "0-1"). Threads
 * it starts later inherit the affinity of the thread that starts them.
 */
export function pinProcess(pid: number, cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

/** Every core of the machine, as a taskset CPU list. */
export const allCores = (): string => `0-${cpus().length - 1}`;

/** Resident set size of the server's node process, in MB (10^6 bytes). */
export function rssMb(server: ServerProcess): number {
  // The pid must be node's (taskset execs it), not taskset's. Checked on the executable, not on
  // /proc/<pid>/comm: that is the main thread's name, which Node 24 sets to "MainThread".
  const exe = readlinkSync(`/proc/${server.pid}/exe`);
  if (exe !== realpathSync(process.execPath)) throw new Error(`${server.name}: pid ${server.pid} runs ${exe}, not node`);
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kib) throw new Error(`${server.name}: no VmRSS in /proc/${server.pid}/status`);
  return (Number(kib) * 1024) / 1e6;
}

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time process `pid` has used so far (all its threads, user + system), in ms. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  return (ticks * 1000) / clockTicksPerSecond;
}

/**
 * CPU time the server has used so far (all its threads, user + system), in ms. Unlike req/s, CPU per
 * request hardly changes when other work on the machine takes turns on the server's core.
 */
export function cpuMs(server: ServerProcess): number {
  return processCpuMs(server.pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

/** The parent's environment without any LATCHKEY_* setting a developer may have exported. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LATCHKEY_')) env[key] = value;
  return { ...env, NODE_ENV: 'production' };
}

/** The 1, 5 and 15 minute load averages, for the header of a report. */
export const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

// ---------------------------------------------------------------------------------------------
// HTTP helpers

export async function requestJson(method: string, url: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Keep the text for the error message.
  }
  return { status: response.status, body: parsed };
}

export function expectStatus(what: string, got: { status: number; body: unknown }, status: number): any {
  if (got.status !== status) throw new Error(`${what}: expected ${status}, got ${got.status} ${JSON.stringify(got.body)}`);
  return got.body;
}

// ---------------------------------------------------------------------------------------------
// Figures

/** The p-th percentile (nearest rank) of ascending values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

/** Prints rows under a header, the first column left-aligned and the others right-aligned. */
export function printTable(header: string[], rows: string[][], indent = ''): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(`${indent}${line(header)}`);
  for (const row of rows) console.log(`${indent}${line(row)}`);
}

/** One target: what it asks, whether it is met, and the measured value. */
export type TargetCheck = [label: string, met: boolean, value: string];

export function printTargetChecks(checks: TargetCheck[], indent = '    '): void {
  const labelWidth = Math.max(...checks.map(([label]) => label.length));
  for (const [label, met, value] of checks) console.log(`${indent}${met ? 'MET   ' : 'MISSED'}  ${label.padEnd(labelWidth)}  ${value}`);
}

/**
 * The CPU one RS256 signature (RSA 2048, node:crypto on a parsed key) costs in this process: the
 * floor under every token either server issues, measured on this machine rather than assumed.
 */
export function rs256SignatureMicros(): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const input = Buffer.from(`${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${'x'.repeat(300)}`);
  for (let i = 0; i < 200; i++) sign('sha256', input, privateKey);
  const count = 2000;
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) sign('sha256', input, privateKey);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** pg is the server's dependency, not the benchmark's: load it the way the server does. */
interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
}

export async function dropSchema(connectionString: string, schema: string): Promise<void> {
  const pg = createRequire(join(serverDir, 'package.json'))('pg') as { Client: new (config: { connectionString: string }) => PgClient };
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
