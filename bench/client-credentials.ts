/**
 * Client-credentials benchmark: latchkey against node-oidc-provider, both issuing RS256 JWT access
 * tokens to an M2M client (client_secret_post) for one API. Each server runs alone on core 0; this
 * process, which drives the load with autocannon, runs on core 1. Prints throughput, latency,
 * start-up time and idle RSS next to latchkey's targets.
 *
 * Usage: npm run bench:client-credentials [-- -- --postgres --duration 10 --connections 10]
 * (two `--`: the root script runs this one through a second `npm run`).
 *
 * Exits non-zero when the benchmark cannot be trusted (a server fails to start, a token is not a
 * JWT, a response under load is not 2xx), never because a target is missed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const TARGETS = { throughputRatio: 1.5, p99Ms: 5, startupMs: 1000, idleRssMb: 120 };
const WARMUP_SECONDS = 2;
const SERVER_CORE = '0';
const LOAD_CORE = '1';

const benchDir = dirname(fileURLToPath(import.meta.url));
const serverDir = resolve(benchDir, '../packages/server');
const latchkeyCli = join(serverDir, 'dist/cli.js');
const oidcProviderScript = join(benchDir, 'oidc-provider-server.js');

const API_IDENTIFIER = 'https://bench.latchkey.local/api';
const API_SCOPE = 'read:bench';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
  },
});
const durationSeconds = positiveInteger(args.duration, '--duration');
const connections = positiveInteger(args.connections, '--connections');
const postgresBaseUrl = process.env.LATCHKEY_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function positiveInteger(text: string | undefined, flag: string): number {
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

async function cleanUp(): Promise<void> {
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

function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  cleanups.push({
    what: `remove ${dir}`,
    run: () => {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  });
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Child servers

interface ServerProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last few kilobytes of its stdout and stderr, shown when something goes wrong. */
  output(): string;
  /** Set when it exits without being asked to. */
  exitedEarly(): string | undefined;
  stop(): Promise<void>;
}

function startPinned(name: string, script: string, scriptArgs: string[], env: NodeJS.ProcessEnv): ServerProcess {
  // taskset execs node, so the pid is node's own and /proc/<pid>/status describes the server.
  const child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, script, ...scriptArgs], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.once('error', (err) => {
    output += `\n${err.message}`;
  });
  if (child.pid === undefined) throw new Error(`${name}: could not spawn taskset (is util-linux installed?)`);
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
  cleanups.push({ what: `stop ${name}`, run: () => server.stop() });
  return server;
}

function failWithOutput(server: ServerProcess, message: string): never {
  throw new Error(`${server.name}: ${message}\n--- ${server.name} output ---\n${server.output() || '(none)'}\n---`);
}

/** Polls until `url` answers 200; returns milliseconds since `spawnedAt`. */
async function waitForOk(server: ServerProcess, url: string, spawnedAt: number): Promise<number> {
  const deadline = spawnedAt + 30_000;
  while (performance.now() < deadline) {
    const early = server.exitedEarly();
    if (early) failWithOutput(server, `${early} before answering ${url}`);
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

/** Resident set size of the server's node process, in MB (10^6 bytes). */
function rssMb(server: ServerProcess): number {
  // The kernel keeps the first 15 characters of the executable's name.
  const comm = readFileSync(`/proc/${server.pid}/comm`, 'utf8').trim();
  if (comm !== basename(process.execPath).slice(0, 15)) throw new Error(`${server.name}: pid ${server.pid} is "${comm}", not node`);
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kib) throw new Error(`${server.name}: no VmRSS in /proc/${server.pid}/status`);
  return (Number(kib) * 1024) / 1e6;
}

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU time the server has used so far (all its threads, user + system), in ms. Unlike req/s, CPU per
 * request hardly changes when other work on the machine takes turns on core 0.
 */
function cpuMs(server: ServerProcess): number {
  const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  return (ticks * 1000) / clockTicksPerSecond;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function freePort(): Promise<number> {
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
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LATCHKEY_')) env[key] = value;
  return { ...env, NODE_ENV: 'production' };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

async function requestJson(method: string, url: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
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

function expectStatus(what: string, got: { status: number; body: unknown }, status: number): any {
  if (got.status !== status) throw new Error(`${what}: expected ${status}, got ${got.status} ${JSON.stringify(got.body)}`);
  return got.body;
}

/** One token request before the load, so the benchmark measures tokens and not errors. */
async function expectJwtAccessToken(serverName: string, url: string, form: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  const text = await response.text();
  const fail = (why: string): never => {
    throw new Error(`${serverName}: token request ${why}: ${response.status} ${text}`);
  };
  if (response.status !== 200) fail('did not return 200');
  let token: unknown;
  try {
    token = (JSON.parse(text) as { access_token?: unknown }).access_token;
  } catch {
    fail('did not return JSON');
  }
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) fail('did not return a JWS compact access token');
  const decode = (part: string | undefined) => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
  const header = decode(parts[0]) as { alg?: string };
  const payload = decode(parts[1]) as { aud?: string | string[] };
  if (header.alg !== 'RS256') fail(`returned a token signed with ${header.alg}, not RS256`);
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!audiences.includes(API_IDENTIFIER)) fail(`returned a token for ${JSON.stringify(payload.aud)}, not ${API_IDENTIFIER}`);
}

// ---------------------------------------------------------------------------------------------
// Load

interface LoadFigures {
  requestsPerSecond: number;
  /** Server CPU time per response during the measured run. */
  cpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  non2xxSamples: string[];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

async function runLoad(server: ServerProcess, url: string, form: string): Promise<LoadFigures> {
  const base = {
    url,
    connections,
    method: 'POST' as const,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  };
  // Warm-up so the JIT has compiled the token path before anything is measured.
  await autocannon({ ...base, duration: WARMUP_SECONDS });

  const non2xxSamples: string[] = [];
  // autocannon's histogram has 1 ms resolution, too coarse for a 5 ms target: record latencies here.
  const latencies: number[] = [];
  const cpuBefore = cpuMs(server);
  const result = await new Promise<autocannon.Result>((resolveRun, reject) => {
    const instance = autocannon(
      {
        ...base,
        duration: durationSeconds,
        requests: [
          {
            onResponse: (status, body) => {
              if ((status < 200 || status >= 300) && non2xxSamples.length < 3) non2xxSamples.push(`${status} ${body.slice(0, 300)}`);
            },
          },
        ],
      },
      (err, done) => (err ? reject(err) : resolveRun(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  const cpuUsed = cpuMs(server) - cpuBefore;
  const sorted = Float64Array.from(latencies).sort();
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  return {
    requestsPerSecond: result.requests.average,
    cpuUsPerRequest: result.requests.total > 0 ? (cpuUsed * 1000) / result.requests.total : Number.NaN,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    non2xxSamples,
  };
}

// ---------------------------------------------------------------------------------------------
// The two servers

interface Measured {
  name: string;
  startupMs: number;
  /** latchkey only: start-up on the database the first start created. */
  restartMs?: number;
  idleRssMb: number;
  loadedRssMb: number;
  load: LoadFigures;
}

async function benchLatchkey(storage: 'sqlite' | 'postgres'): Promise<Measured> {
  const name = `latchkey (${storage === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`;
  const dataDir = makeTempDir('latchkey-bench-');
  let databaseUrl = `sqlite:${join(dataDir, 'latchkey.db')}`;
  if (storage === 'postgres') {
    const schema = `bench_${randomBytes(6).toString('hex')}`;
    databaseUrl = `${postgresBaseUrl}?schema=${schema}`;
    // Registered before the server starts (clean-up runs in reverse), so it runs after the stop.
    cleanups.push({ what: `drop schema ${schema}`, run: () => dropSchema(schema) });
  }
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/`;
  const admin = { clientId: `bench${randomBytes(8).toString('hex')}`, clientSecret: randomBytes(32).toString('base64url') };

  const env = {
    ...baseEnv(),
    LATCHKEY_PORT: String(port),
    LATCHKEY_HOST: '127.0.0.1',
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_DATABASE_URL: databaseUrl,
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_MASTER_KEY: randomBytes(32).toString('base64'),
    LATCHKEY_ADMIN_CLIENT_ID: admin.clientId,
    LATCHKEY_ADMIN_CLIENT_SECRET: admin.clientSecret,
    LATCHKEY_LOG_LEVEL: 'silent',
  };
  const launch = async () => {
    const spawnedAt = performance.now();
    const server = startPinned(name, latchkeyCli, ['start'], env);
    return { server, startupMs: await waitForOk(server, `${issuer}healthz`, spawnedAt) };
  };
  // A first start also migrates the empty database and generates the first signing key.
  const { server, startupMs } = await launch();
  await sleep(1000); // let start-up garbage settle: "idle" is the steady state, not the peak
  const idleRssMb = rssMb(server);

  // What an operator does in the dashboard: an API, an M2M application, and a grant between them.
  const managementToken = expectStatus(
    'admin token',
    await requestJson('POST', `${issuer}oauth/token`, {
      grant_type: 'client_credentials',
      client_id: admin.clientId,
      client_secret: admin.clientSecret,
      audience: `${issuer}api/v2/`,
    }),
    200,
  ).access_token as string;
  const management = (method: string, path: string, body: unknown) =>
    requestJson(method, `${issuer}api/v2${path}`, body, managementToken);
  expectStatus(
    'create resource server',
    await management('POST', '/resource-servers', {
      identifier: API_IDENTIFIER,
      name: 'Benchmark API',
      signing_alg: 'RS256',
      scopes: [{ value: API_SCOPE, description: 'Read benchmark data' }],
    }),
    201,
  );
  const client = expectStatus(
    'create client',
    await management('POST', '/clients', {
      name: 'Benchmark M2M',
      app_type: 'non_interactive',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
    }),
    201,
  ) as { client_id: string; client_secret: string };
  expectStatus(
    'create client grant',
    await management('POST', '/client-grants', { client_id: client.client_id, audience: API_IDENTIFIER, scope: [API_SCOPE] }),
    201,
  );

  const tokenUrl = `${issuer}oauth/token`;
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: client.client_id,
    client_secret: client.client_secret,
    audience: API_IDENTIFIER,
    scope: API_SCOPE,
  }).toString();
  await expectJwtAccessToken(name, tokenUrl, form);
  const load = await runLoad(server, tokenUrl, form);
  const early = server.exitedEarly();
  if (early) failWithOutput(server, `${early} during the load`);
  const loadedRssMb = rssMb(server);
  await server.stop();

  // A restart on the same data: what an operator waits for on a deploy or a crash.
  const restart = await launch();
  await restart.server.stop();
  return { name, startupMs, restartMs: restart.startupMs, idleRssMb, loadedRssMb, load };
}

async function benchOidcProvider(): Promise<Measured> {
  const version = (JSON.parse(readFileSync(createRequire(import.meta.url).resolve('oidc-provider/package.json'), 'utf8')) as { version: string }).version;
  const name = `oidc-provider ${version}`;
  const port = await freePort();
  const client = { id: `bench${randomBytes(8).toString('hex')}`, secret: randomBytes(32).toString('base64url') };
  const spawnedAt = performance.now();
  const server = startPinned(name, oidcProviderScript, [], {
    ...baseEnv(),
    BENCH_OIDC_PORT: String(port),
    BENCH_OIDC_CLIENT_ID: client.id,
    BENCH_OIDC_CLIENT_SECRET: client.secret,
    BENCH_OIDC_RESOURCE: API_IDENTIFIER,
    BENCH_OIDC_SCOPE: API_SCOPE,
  });
  const base = `http://127.0.0.1:${port}`;
  const startupMs = await waitForOk(server, `${base}/.well-known/openid-configuration`, spawnedAt);
  await sleep(1000);
  const idleRssMb = rssMb(server);

  const tokenUrl = `${base}/oauth/token`;
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: client.id,
    client_secret: client.secret,
    resource: API_IDENTIFIER,
    scope: API_SCOPE,
  }).toString();
  await expectJwtAccessToken(name, tokenUrl, form);
  const load = await runLoad(server, tokenUrl, form);
  const early = server.exitedEarly();
  if (early) failWithOutput(server, `${early} during the load`);
  const loadedRssMb = rssMb(server);
  await server.stop();
  return { name, startupMs, idleRssMb, loadedRssMb, load };
}

/** pg is the server's dependency, not the benchmark's: load it the way the server does. */
interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
}

async function dropSchema(schema: string): Promise<void> {
  const pg = createRequire(join(serverDir, 'package.json'))('pg') as { Client: new (config: { connectionString: string }) => PgClient };
  const client = new pg.Client({ connectionString: postgresBaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function printReport(runs: Measured[], reference: Measured): boolean {
  const rows = runs.map((r) => [
    r.name,
    r.load.requestsPerSecond.toFixed(0),
    r.load.cpuUsPerRequest.toFixed(0),
    r.load.p50Ms.toFixed(2),
    r.load.p99Ms.toFixed(2),
    String(r.load.total),
    String(r.load.non2xx + r.load.errors + r.load.timeouts),
    r.startupMs.toFixed(0),
    r.restartMs === undefined ? '-' : r.restartMs.toFixed(0),
    r.idleRssMb.toFixed(1),
    r.loadedRssMb.toFixed(1),
  ]);
  const header = ['server', 'req/s', 'CPU µs/req', 'p50 ms', 'p99 ms', 'requests', 'failed', 'start-up ms', 'restart ms', 'idle RSS MB', 'RSS after MB'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));

  let valid = true;
  for (const r of runs) {
    const { non2xx, errors, timeouts, statusCodes, non2xxSamples } = r.load;
    if (non2xx + errors + timeouts === 0) continue;
    valid = false;
    console.log(`\n${r.name}: ${non2xx} non-2xx, ${errors} connection errors, ${timeouts} timeouts; status codes ${JSON.stringify(statusCodes)}`);
    for (const sample of non2xxSamples) console.log(`  ${sample}`);
  }

  console.log('\nTargets');
  for (const r of runs.filter((run) => run !== reference)) {
    const ratio = r.load.requestsPerSecond / reference.load.requestsPerSecond;
    const checks: Array<[string, boolean, string]> = [
      [`throughput >= ${TARGETS.throughputRatio}x oidc-provider`, ratio >= TARGETS.throughputRatio, `${ratio.toFixed(2)}x`],
      [`p99 < ${TARGETS.p99Ms} ms`, r.load.p99Ms < TARGETS.p99Ms, `${r.load.p99Ms.toFixed(2)} ms`],
      [`start-up < ${TARGETS.startupMs} ms`, r.startupMs < TARGETS.startupMs, `${r.startupMs.toFixed(0)} ms`],
      [`idle RSS < ${TARGETS.idleRssMb} MB`, r.idleRssMb < TARGETS.idleRssMb, `${r.idleRssMb.toFixed(1)} MB`],
    ];
    console.log(`  ${r.name}`);
    const labelWidth = Math.max(...checks.map(([label]) => label.length));
    for (const [label, met, value] of checks) console.log(`    ${met ? 'MET   ' : 'MISSED'}  ${label.padEnd(labelWidth)}  ${value}`);
    // The same comparison by CPU per token, which other load on the machine disturbs far less.
    const cpuRatio = reference.load.cpuUsPerRequest / r.load.cpuUsPerRequest;
    console.log(`    (by CPU per token: ${cpuRatio.toFixed(2)}x oidc-provider; ${r.load.cpuUsPerRequest.toFixed(0)} vs ${reference.load.cpuUsPerRequest.toFixed(0)} µs)`);
  }
  return valid;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  if (!existsSync(latchkeyCli)) throw new Error(`${latchkeyCli} is missing: run \`npm run build -w @latchkey/server\` first`);
  const cores = cpus().length;
  // Keep the load generator (this process, all its threads) off the servers' core.
  if (cores >= 2) execFileSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(
    `client_credentials: ${connections} connections, ${durationSeconds} s per server after ${WARMUP_SECONDS} s warm-up; ` +
      `servers on core ${SERVER_CORE} one at a time, load on core ${cores >= 2 ? LOAD_CORE : `${SERVER_CORE} (only one core!)`}`,
  );
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cores}, load average ${load}\n`);

  const runs: Measured[] = [];
  runs.push(await benchLatchkey('sqlite'));
  if (args.postgres) runs.push(await benchLatchkey('postgres'));
  const reference = await benchOidcProvider();
  runs.push(reference);

  const valid = printReport(runs, reference);
  if (!valid) {
    console.error('\nbenchmark invalid: some responses under load were not 2xx (see above)');
    return 1;
  }
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await cleanUp();
}
process.exit(exitCode);
