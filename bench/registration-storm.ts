/**
 * Registration storm: open dynamic client registration must not stall the server. With 50,000
 * registered clients in the database, CORS preflights (OPTIONS /oauth/token with an Origin) and
 * client_credentials tokens are loaded with autocannon, first with nothing else going on, then while
 * registrations keep arriving from several source addresses (each followed by a preflight from the
 * new client's origin, as the attack that found the problem did). Prints p50/p99 of both and the
 * server's own event-loop delay (perf_hooks inside the server process) for each phase.
 *
 * Usage: npm run bench:registration-storm [-- -- --sqlite-only | --postgres-only, --duration 5,
 *        --clients 50000, --registrations-per-second 200, --addresses 8, --connections 4]
 */

import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { browserOriginsOf } from '../packages/server/src/oauth/browser-origins.js';
import {
  benchDir,
  cpuMs,
  expectAlive,
  expectStatus,
  loadAverage,
  onCleanUp,
  percentile,
  positiveInteger,
  printTable,
  printTargetChecks,
  requestJson,
  runBenchmark,
  type ServerProcess,
  serverDir,
  sleep,
  type TargetCheck,
} from './lib/harness.js';
import { expectBuiltServer, type Latchkey, type StorageKind, startLatchkey, storageLabel } from './lib/latchkey.js';

const { values: args } = parseArgs({
  options: {
    'sqlite-only': { type: 'boolean', default: false },
    'postgres-only': { type: 'boolean', default: false },
    duration: { type: 'string', default: '5' },
    clients: { type: 'string', default: '50000' },
    'registrations-per-second': { type: 'string', default: '200' },
    addresses: { type: 'string', default: '8' },
    connections: { type: 'string', default: '4' },
  },
});
if (args['sqlite-only'] && args['postgres-only']) throw new Error('--sqlite-only and --postgres-only exclude each other');
const storages: StorageKind[] = args['sqlite-only'] ? ['sqlite'] : args['postgres-only'] ? ['postgres'] : ['sqlite', 'postgres'];
const durationSeconds = positiveInteger(args.duration, '--duration');
const seedCount = positiveInteger(args.clients, '--clients');
const registrationRate = positiveInteger(args['registrations-per-second'], '--registrations-per-second');
const addressCount = Math.min(200, positiveInteger(args.addresses, '--addresses'));
const connections = positiveInteger(args.connections, '--connections');

const TARGET_P99_MS = 10;
const API = 'https://storm-api.example.test/';
const SEED_BATCH = 5000;
const probe = fileURLToPath(new URL('./lib/event-loop-probe.mjs', import.meta.url));
const stormWorker = fileURLToPath(new URL('./lib/registration-storm-worker.ts', import.meta.url));
const serverRequire = createRequire(join(serverDir, 'package.json'));

// ---------------------------------------------------------------------------------------------
// Seeding: registered clients written straight into the database, as many as a long storm would leave.

interface SeedTemplate {
  data: Record<string, unknown>;
  secretDigest: string;
}

interface SeedRows {
  clients: Array<[clientId: string, secretDigest: string, data: string, createdAt: string]>;
  origins: Array<[origin: string, clientId: string]>;
}

const seedOrigin = (i: number) => `https://seed-${i}.example`;

/** Rows for clients `from`..`to`-1, shaped like the template (a real registration); every tenth also has a loopback callback. */
function seedRows(template: SeedTemplate, from: number, to: number): SeedRows {
  const rows: SeedRows = { clients: [], origins: [] };
  const createdAt = new Date().toISOString();
  for (let i = from; i < to; i++) {
    const clientId = `tpc_seed${String(i).padStart(7, '0')}`;
    const callbacks = [`${seedOrigin(i)}/callback`, ...(i % 10 === 0 ? ['http://127.0.0.1/callback'] : [])];
    const client = { ...template.data, client_id: clientId, name: `Seeded app ${i}`, callbacks };
    rows.clients.push([clientId, template.secretDigest, JSON.stringify(client), createdAt]);
    for (const origin of browserOriginsOf({ callbacks, web_origins: [], allowed_origins: [] })) rows.origins.push([origin, clientId]);
  }
  return rows;
}

interface SqliteDatabase {
  prepare(sql: string): { run(...params: unknown[]): unknown; get(...params: unknown[]): any; all(...params: unknown[]): unknown[] };
  transaction(fn: () => void): () => void;
  pragma(text: string): unknown;
  close(): void;
}

interface PgClient {
  connect(): Promise<void>;
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
  end(): Promise<void>;
}

/** Opens the benchmarked server's database from this process, with the server's own drivers. */
async function openDatabase(latchkey: Latchkey) {
  if (latchkey.storage === 'sqlite') {
    const Sqlite = serverRequire('better-sqlite3') as new (file: string) => SqliteDatabase;
    const db = new Sqlite(latchkey.databaseUrl.slice('sqlite:'.length));
    db.pragma('busy_timeout = 5000');
    return {
      template: async (clientId: string): Promise<SeedTemplate> => {
        const row = db.prepare('select data, secret_digest from clients where client_id = ?').get(clientId);
        return { data: JSON.parse(row.data), secretDigest: row.secret_digest };
      },
      insert: async (rows: SeedRows) => {
        const client = db.prepare('insert into clients (client_id, secret_digest, data, created_at) values (?, ?, ?, ?)');
        const origin = db.prepare('insert into client_origins (origin, client_id) values (?, ?)');
        const count = db.prepare("update counters set value = value + ? where name = 'registered_clients'");
        db.transaction(() => {
          for (const row of rows.clients) client.run(...row);
          for (const row of rows.origins) origin.run(...row);
          count.run(rows.clients.length);
        })();
      },
      allData: async () => (db.prepare('select data from clients').all() as Array<{ data: string }>).map((r) => r.data),
      // The server notices another connection's commits itself (PRAGMA data_version, within a second).
      announce: async () => sleep(1500),
      close: async () => db.close(),
    };
  }
  const url = new URL(latchkey.databaseUrl);
  const schema = url.searchParams.get('schema')!;
  url.searchParams.delete('schema');
  const pg = serverRequire('pg') as { Client: new (config: object) => PgClient };
  const client = new pg.Client({ connectionString: url.toString(), options: `-c search_path=${schema}` });
  await client.connect();
  return {
    template: async (clientId: string): Promise<SeedTemplate> => {
      const { rows } = await client.query('select data, secret_digest from clients where client_id = $1', [clientId]);
      return { data: JSON.parse(rows[0].data), secretDigest: rows[0].secret_digest };
    },
    insert: async (rows: SeedRows) => {
      const columns = <T extends unknown[]>(list: T[], i: number) => list.map((row) => row[i]);
      await client.query('begin');
      await client.query(
        'insert into clients (client_id, secret_digest, data, created_at) ' +
          'select * from unnest($1::text[], $2::text[], $3::text[], $4::text[])',
        [columns(rows.clients, 0), columns(rows.clients, 1), columns(rows.clients, 2), columns(rows.clients, 3)],
      );
      await client.query('insert into client_origins (origin, client_id) select * from unnest($1::text[], $2::text[])', [
        columns(rows.origins, 0),
        columns(rows.origins, 1),
      ]);
      await client.query("update counters set value = value + $1 where name = 'registered_clients'", [rows.clients.length]);
      await client.query('commit');
    },
    allData: async () => (await client.query('select data from clients')).rows.map((r: { data: string }) => r.data as string),
    // What a node does when its change feed reconnects: drop every cached lookup.
    announce: async () => {
      await client.query('select pg_notify($1, $2)', [`latchkey_changes_${schema}`, '']);
      await sleep(200);
    },
    close: () => client.end(),
  };
}

async function seed(latchkey: Latchkey, templateClientId: string): Promise<{ seconds: number; origins: number; formerRebuildMs: number }> {
  const db = await openDatabase(latchkey);
  try {
    const template = await db.template(templateClientId);
    const started = performance.now();
    let origins = 0;
    for (let from = 0; from < seedCount; from += SEED_BATCH) {
      const rows = seedRows(template, from, Math.min(seedCount, from + SEED_BATCH));
      await db.insert(rows);
      origins += rows.origins.length;
      if (performance.now() - started > 120_000)
        throw new Error(`seeding took over 2 minutes (${from + SEED_BATCH} of ${seedCount} clients)`);
    }
    const seconds = (performance.now() - started) / 1000;
    // For comparison: what the former origin cache did on the first request after every registration
    // (read every client and collect its origins), timed here in one go rather than page by page.
    const scanStarted = performance.now();
    const all = new Set<string>();
    for (const data of await db.allData())
      for (const origin of browserOriginsOf(JSON.parse(data) as Parameters<typeof browserOriginsOf>[0])) all.add(origin);
    const formerRebuildMs = performance.now() - scanStarted;
    await db.announce();
    return { seconds, origins, formerRebuildMs };
  } finally {
    await db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The storm runs in a child process (lib/registration-storm-worker.ts), so that its requests do not
// share an event loop with autocannon's measurements.

interface StormResult {
  registered: number;
  seconds: number;
  statuses: Record<string, number>;
}

interface Storm {
  stop(): Promise<StormResult>;
}

/** Starts the storm; resolves once it is running. */
async function startStorm(issuer: string): Promise<Storm> {
  const child = fork(stormWorker, [issuer, String(registrationRate), String(addressCount)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  onCleanUp('stop the registration storm', () => void child.kill('SIGKILL'));
  const messages: unknown[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (message) => {
    messages.push(message);
    waiters.splice(0).forEach((wake) => wake());
  });
  const next = () =>
    new Promise<unknown>((resolveMessage, reject) => {
      const take = () => (messages.length > 0 ? resolveMessage(messages.shift()) : waiters.push(take));
      child.once('exit', (code) => reject(new Error(`the registration storm exited with code ${code}`)));
      take();
    });
  await next(); // "ready"
  return {
    async stop() {
      child.send('stop');
      return (await next()) as StormResult;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Loads and readings

interface LoadFigures {
  requestsPerSecond: number;
  /** Server CPU (all threads) over the load divided by its responses; registrations running meanwhile included. */
  cpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  samples: string[];
}

async function load(server: ServerProcess, options: autocannon.Options, expected: number, durationS: number): Promise<LoadFigures> {
  const cpuBefore = cpuMs(server);
  const latencies: number[] = [];
  const samples: string[] = [];
  let failures = 0;
  const result = await new Promise<autocannon.Result>((resolveRun, reject) => {
    const instance = autocannon({ ...options, connections, duration: durationS }, (err, done) => (err ? reject(err) : resolveRun(done)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === expected) latencies.push(responseTime);
      else if (failures++ < 3) samples.push(String(statusCode));
    });
  });
  const sorted = Float64Array.from(latencies).sort();
  return {
    requestsPerSecond: result.requests.average,
    cpuUsPerRequest: result.requests.total > 0 ? ((cpuMs(server) - cpuBefore) * 1000) / result.requests.total : Number.NaN,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    failures: failures + result.errors + result.timeouts,
    samples,
  };
}

interface EventLoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Asks the probe inside the server for the event-loop delay since the last reading (and resets it). */
async function eventLoopDelay(server: ServerProcess): Promise<EventLoopDelay> {
  const seen = (server.output().match(/event-loop-delay /g) ?? []).length;
  process.kill(server.pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++) {
    const lines = [...server.output().matchAll(/event-loop-delay (\{[^\n]*\})/g)];
    // The output is a rolling window; a new last line is enough once the count moved on or the window rolled.
    if (lines.length > seen || (lines.length > 0 && i > 20)) return JSON.parse(lines[lines.length - 1]![1]!) as EventLoopDelay;
    await sleep(10);
  }
  throw new Error(`${server.name}: the event-loop probe did not answer (is NODE_OPTIONS --import honoured?)`);
}

interface Phase {
  label: string;
  registrationsPerSecond: number;
  preflight: LoadFigures;
  token: LoadFigures;
  eventLoop: EventLoopDelay;
  serverCpuPercent: number;
  storm?: Record<string, number>;
}

async function runPhase(
  label: string,
  latchkey: Latchkey,
  loads: { preflight: autocannon.Options; token: autocannon.Options },
  withStorm: boolean,
): Promise<Phase> {
  await eventLoopDelay(latchkey.server); // starts the phase's histogram
  const cpuBefore = cpuMs(latchkey.server);
  const wallBefore = performance.now();
  const storm = withStorm ? await startStorm(latchkey.issuer) : undefined;
  if (storm) await sleep(1000); // let the storm reach its pace before measuring
  const preflight = await load(latchkey.server, loads.preflight, 204, durationSeconds);
  const token = await load(latchkey.server, loads.token, 200, durationSeconds);
  const eventLoop = await eventLoopDelay(latchkey.server);
  const stormResult = await storm?.stop();
  const serverCpuPercent = ((cpuMs(latchkey.server) - cpuBefore) / (performance.now() - wallBefore)) * 100;
  expectAlive(latchkey.server, `during the ${label} phase`);
  return {
    label,
    registrationsPerSecond: stormResult ? stormResult.registered / stormResult.seconds : 0,
    preflight,
    token,
    eventLoop,
    serverCpuPercent,
    ...(stormResult ? { storm: stormResult.statuses } : {}),
  };
}

// ---------------------------------------------------------------------------------------------

async function benchStorage(storage: StorageKind): Promise<boolean> {
  console.log(`\n== ${storageLabel(storage)} (load average ${loadAverage()})`);
  const latchkey = await startLatchkey(storage, undefined, {
    NODE_OPTIONS: `--import=${probe}`,
    // Raised for the run, so that registrations keep coming at the chosen pace.
    LATCHKEY_REGISTRATION_RATE_LIMIT: '10000',
    LATCHKEY_REGISTRATION_TENANT_RATE_LIMIT: '1000000',
    LATCHKEY_REGISTRATION_MAX_CLIENTS: '10000000',
  });
  const { management } = await latchkey.managementApi();
  expectStatus(
    'enable registration',
    await management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } }),
    200,
  );
  expectStatus(
    'create API',
    await management('POST', '/resource-servers', { identifier: API, name: 'Storm API', scopes: [{ value: 'read:data' }] }),
    201,
  );
  const m2m = expectStatus(
    'create M2M client',
    await management('POST', '/clients', { name: 'Storm M2M', app_type: 'non_interactive' }),
    201,
  );
  expectStatus(
    'create grant',
    await management('POST', '/client-grants', { client_id: m2m.client_id, audience: API, scope: ['read:data'] }),
    201,
  );
  const template = expectStatus(
    'register the template client',
    await requestJson('POST', `${latchkey.issuer}oidc/register`, {
      client_name: 'Template',
      redirect_uris: ['https://template.example/callback'],
      token_endpoint_auth_method: 'none',
    }),
    201,
  );

  const seeded = await seed(latchkey, template.client_id as string);
  console.log(
    `seeded ${seedCount.toLocaleString('en')} registered clients ` +
      `(${seeded.origins.toLocaleString('en')} origin rows) in ${seeded.seconds.toFixed(1)} s: ` +
      `${Math.floor(seedCount / seeded.seconds).toLocaleString('en')} clients/s`,
  );
  console.log(
    `reading every client's origins, as the former cache did after each registration: ` +
      `${seeded.formerRebuildMs.toFixed(0)} ms (in this process)`,
  );
  const listed = expectStatus('count clients', await management('GET', '/clients?per_page=1&include_totals=true'), 200);
  if (listed.total < seedCount) throw new Error(`the server lists ${listed.total} clients, expected at least ${seedCount}`);

  // Preflights from 50 seeded clients' origins; checked once before the load.
  const origins = Array.from({ length: 50 }, (_, i) => seedOrigin(Math.floor((i * seedCount) / 50) + 1));
  const check = await fetch(`${latchkey.issuer}oauth/token`, {
    method: 'OPTIONS',
    headers: { origin: origins[0]!, 'access-control-request-method': 'POST' },
  });
  if (check.headers.get('access-control-allow-origin') !== origins[0]) throw new Error(`a seeded origin is not allowed: ${check.status}`);
  const tokenUrl = `${latchkey.issuer}oauth/token`;
  const loads = {
    preflight: {
      url: tokenUrl,
      requests: origins.map((origin) => ({
        method: 'OPTIONS' as const,
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      })),
    },
    token: {
      url: tokenUrl,
      method: 'POST' as const,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: m2m.client_id,
        client_secret: m2m.client_secret,
        audience: API,
      }).toString(),
    },
  };
  // Warm-up, so the JIT has compiled both paths before anything is measured.
  await load(latchkey.server, loads.preflight, 204, 1);
  await load(latchkey.server, loads.token, 200, 1);

  const quiet = await runPhase('no registrations', latchkey, loads, false);
  const storm = await runPhase(`${registrationRate}/s registrations`, latchkey, loads, true);
  await latchkey.server.stop();

  const ms = (v: number) => v.toFixed(2);
  printTable(
    [
      'phase',
      'registered/s',
      'preflight/s',
      'p50 ms',
      'p99 ms',
      'CPU µs',
      'tokens/s',
      'p50 ms',
      'p99 ms',
      'CPU µs',
      'event loop p50',
      'p99',
      'max ms',
      'server CPU %',
    ],
    [quiet, storm].map((p) => [
      p.label,
      p.registrationsPerSecond.toFixed(0),
      p.preflight.requestsPerSecond.toFixed(0),
      ms(p.preflight.p50Ms),
      ms(p.preflight.p99Ms),
      p.preflight.cpuUsPerRequest.toFixed(0),
      p.token.requestsPerSecond.toFixed(0),
      ms(p.token.p50Ms),
      ms(p.token.p99Ms),
      p.token.cpuUsPerRequest.toFixed(0),
      ms(p.eventLoop.p50),
      ms(p.eventLoop.p99),
      ms(p.eventLoop.max),
      p.serverCpuPercent.toFixed(0),
    ]),
    '  ',
  );
  console.log(`  storm requests: ${JSON.stringify(storm.storm)}`);
  const checks: TargetCheck[] = [
    [`preflight p99 < ${TARGET_P99_MS} ms during registrations`, storm.preflight.p99Ms < TARGET_P99_MS, `${ms(storm.preflight.p99Ms)} ms`],
    [`client_credentials p99 < ${TARGET_P99_MS} ms during registrations`, storm.token.p99Ms < TARGET_P99_MS, `${ms(storm.token.p99Ms)} ms`],
  ];
  printTargetChecks(checks);
  const failures = [quiet, storm].flatMap((p) => [p.preflight, p.token]).filter((f) => f.failures > 0);
  if (failures.length > 0)
    throw new Error(`responses other than expected under load: ${failures.map((f) => f.samples.join(',')).join('; ')}`);
  return checks.every(([, met]) => met);
}

await runBenchmark(async () => {
  expectBuiltServer();
  console.log(
    `registration-storm: ${seedCount.toLocaleString('en')} seeded clients, ${durationSeconds} s per load, ${connections} connections, ` +
      `${registrationRate} registrations/s from ${addressCount} addresses (bench dir ${benchDir})`,
  );
  for (const storage of storages) await benchStorage(storage);
  return 0;
});
