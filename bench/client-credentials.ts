/**
 * Client-credentials benchmark: latchkey against node-oidc-provider, both issuing RS256 JWT access
 * tokens to an M2M client (client_secret_post) for one API. Each server runs alone on core 0; this
 * process, which drives the load with autocannon, runs on core 1. Prints throughput, latency,
 * start-up time and idle RSS next to latchkey's targets.
 *
 * Usage: npm run bench:client-credentials [-- -- --postgres --metrics --duration 10 --connections 10]
 * (--metrics: latchkey on SQLite once more with /metrics on a separate port, to see what metrics cost)
 * (two `--`: the root script runs this one through a second `npm run`).
 *
 * Exits non-zero when the benchmark cannot be trusted (a server fails to start, a token is not a
 * JWT, a response under load is not 2xx), never because a target is missed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import {
  baseEnv,
  benchDir,
  cpuMs,
  expectAlive,
  expectStatus,
  freePort,
  loadAverage,
  percentile,
  positiveInteger,
  printTable,
  printTargetChecks,
  rs256SignatureMicros,
  rssMb,
  runBenchmark,
  type ServerProcess,
  sleep,
  startPinned,
  type TargetCheck,
  waitForOk,
} from './lib/harness.js';
import { createMachineClient, expectBuiltServer, type StorageKind, startLatchkey } from './lib/latchkey.js';

const TARGETS = { throughputRatio: 1.5, p99Ms: 5, startupMs: 1000, idleRssMb: 120 };
const WARMUP_SECONDS = 2;
const SERVER_CORE = '0';
const LOAD_CORE = '1';

const oidcProviderScript = join(benchDir, 'oidc-provider-server.js');

const API_IDENTIFIER = 'https://bench.latchkey.local/api';
const API_SCOPE = 'read:bench';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'boolean', default: false },
    metrics: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
  },
});
const durationSeconds = positiveInteger(args.duration, '--duration');
const connections = positiveInteger(args.connections, '--connections');

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

async function benchLatchkey(storage: StorageKind, withMetrics = false): Promise<Measured> {
  const metricsPort = withMetrics ? await freePort() : undefined;
  // A first start also migrates the empty database and generates the first signing key.
  const latchkey = await startLatchkey(storage, SERVER_CORE, metricsPort ? { LATCHKEY_METRICS_PORT: String(metricsPort) } : {});
  const { issuer, server, startupMs } = latchkey;
  const name = withMetrics ? `${latchkey.name}, metrics on` : latchkey.name;
  await sleep(1000); // let start-up garbage settle: "idle" is the steady state, not the peak
  const idleRssMb = rssMb(server);

  // What an operator does in the dashboard: an API, an M2M application, and a grant between them.
  const { management } = await latchkey.managementApi();
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
  const client = await createMachineClient(management, API_IDENTIFIER, API_SCOPE);

  const tokenUrl = `${issuer}oauth/token`;
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: client.client_id,
    client_secret: client.client_secret,
    audience: API_IDENTIFIER,
    scope: API_SCOPE,
  }).toString();
  const { load, loadedRssMb } = await loadAndStop(name, server, tokenUrl, form, async () => {
    if (!metricsPort) return;
    // Proof that the metrics were on: the token counter saw the load.
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const issued = /^latchkey_tokens_issued_total\{grant="client_credentials"\} (\d+)/m.exec(text)?.[1];
    console.log(`${name}: /metrics counted ${issued ?? 'no'} client_credentials tokens`);
  });

  // A restart on the same data: what an operator waits for on a deploy or a crash.
  const restart = await latchkey.relaunch();
  await restart.server.stop();
  return { name, startupMs, restartMs: restart.startupMs, idleRssMb, loadedRssMb, load };
}

async function benchOidcProvider(): Promise<Measured> {
  const version = (
    JSON.parse(readFileSync(createRequire(import.meta.url).resolve('oidc-provider/package.json'), 'utf8')) as { version: string }
  ).version;
  const name = `oidc-provider ${version}`;
  const port = await freePort();
  const client = { id: `bench${randomBytes(8).toString('hex')}`, secret: randomBytes(32).toString('base64url') };
  const env = {
    ...baseEnv(),
    BENCH_OIDC_PORT: String(port),
    BENCH_OIDC_CLIENT_ID: client.id,
    BENCH_OIDC_CLIENT_SECRET: client.secret,
    BENCH_OIDC_RESOURCE: API_IDENTIFIER,
    BENCH_OIDC_SCOPE: API_SCOPE,
  };
  const spawnedAt = performance.now();
  const server = startPinned(name, oidcProviderScript, [], env, SERVER_CORE);
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
  const { load, loadedRssMb } = await loadAndStop(name, server, tokenUrl, form);
  return { name, startupMs, idleRssMb, loadedRssMb, load };
}

/** The same measurement for either server: one checked token, the load, the RSS after it, stop. */
async function loadAndStop(name: string, server: ServerProcess, tokenUrl: string, form: string, afterLoad?: () => Promise<void>) {
  await expectJwtAccessToken(name, tokenUrl, form);
  const load = await runLoad(server, tokenUrl, form);
  expectAlive(server, 'during the load');
  await afterLoad?.();
  const loadedRssMb = rssMb(server);
  await server.stop();
  return { load, loadedRssMb };
}

// ---------------------------------------------------------------------------------------------
// Report

function printReport(runs: Measured[], reference: Measured, signatureUs: number): boolean {
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
  const header = [
    'server',
    'req/s',
    'CPU µs/req',
    'p50 ms',
    'p99 ms',
    'requests',
    'failed',
    'start-up ms',
    'restart ms',
    'idle RSS MB',
    'RSS after MB',
  ];
  printTable(header, rows);

  let valid = true;
  for (const r of runs) {
    const { non2xx, errors, timeouts, statusCodes, non2xxSamples } = r.load;
    if (non2xx + errors + timeouts === 0) continue;
    valid = false;
    console.log(
      `\n${r.name}: ${non2xx} non-2xx, ${errors} connection errors, ${timeouts} timeouts; status codes ${JSON.stringify(statusCodes)}`,
    );
    for (const sample of non2xxSamples) console.log(`  ${sample}`);
  }

  console.log('\nTargets');
  for (const r of runs.filter((run) => run !== reference)) {
    const ratio = r.load.requestsPerSecond / reference.load.requestsPerSecond;
    const checks: TargetCheck[] = [
      [`throughput >= ${TARGETS.throughputRatio}x oidc-provider`, ratio >= TARGETS.throughputRatio, `${ratio.toFixed(2)}x`],
      [`p99 < ${TARGETS.p99Ms} ms`, r.load.p99Ms < TARGETS.p99Ms, `${r.load.p99Ms.toFixed(2)} ms`],
      [`start-up < ${TARGETS.startupMs} ms`, r.startupMs < TARGETS.startupMs, `${r.startupMs.toFixed(0)} ms`],
      [`idle RSS < ${TARGETS.idleRssMb} MB`, r.idleRssMb < TARGETS.idleRssMb, `${r.idleRssMb.toFixed(1)} MB`],
    ];
    console.log(`  ${r.name}`);
    printTargetChecks(checks);
    // The same comparison by CPU per token, which other load on the machine disturbs far less.
    const cpuRatio = reference.load.cpuUsPerRequest / r.load.cpuUsPerRequest;
    console.log(
      `    (by CPU per token: ${cpuRatio.toFixed(2)}x oidc-provider; ` +
        `${r.load.cpuUsPerRequest.toFixed(0)} vs ${reference.load.cpuUsPerRequest.toFixed(0)} µs)`,
    );
  }
  // Both servers must make one RSA signature per token: that cost bounds any ratio between them.
  const budgetUs = reference.load.cpuUsPerRequest / TARGETS.throughputRatio;
  console.log(
    `
Floor: one RS256 signature costs ${signatureUs.toFixed(0)} µs of CPU here (node:crypto), so a server doing nothing else ` +
      `would reach ${(reference.load.cpuUsPerRequest / signatureUs).toFixed(2)}x oidc-provider by CPU per token; ` +
      `${TARGETS.throughputRatio}x leaves ${budgetUs.toFixed(0)} µs for a whole token request, ` +
      `${Math.round(budgetUs - signatureUs)} µs beyond the signature.`,
  );
  return valid;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  expectBuiltServer();
  const cores = cpus().length;
  // Keep the load generator (this process, all its threads) off the servers' core.
  if (cores >= 2) execFileSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
  const load = loadAverage();
  console.log(
    `client_credentials: ${connections} connections, ${durationSeconds} s per server after ${WARMUP_SECONDS} s warm-up; ` +
      `servers on core ${SERVER_CORE} one at a time, load on core ${cores >= 2 ? LOAD_CORE : `${SERVER_CORE} (only one core!)`}`,
  );
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cores}, load average ${load}\n`);

  const signatureUs = rs256SignatureMicros();
  const runs: Measured[] = [];
  runs.push(await benchLatchkey('sqlite'));
  if (args.metrics) runs.push(await benchLatchkey('sqlite', true));
  if (args.postgres) runs.push(await benchLatchkey('postgres'));
  const reference = await benchOidcProvider();
  runs.push(reference);

  const valid = printReport(runs, reference, signatureUs);
  if (!valid) {
    console.error('\nbenchmark invalid: some responses under load were not 2xx (see above)');
    return 1;
  }
  return 0;
}

await runBenchmark(main);
