/**
 * Scale benchmark: latchkey with a million users. For each backend (SQLite, PostgreSQL) and each
 * size (1,000 users, then --users, default 1,000,000), on a fresh database:
 *
 * 1. start the built server, set up an API, a native app and an M2M client, stop it;
 * 2. seed the users through latchkey's own storage layer (`users.insertMany`, the rows the server writes),
 *    in batches, several at once on PostgreSQL, printing the rate and the database size on disk;
 * 3. start the server again on the seeded data and measure user search by email, `users-by-email`,
 *    metadata search sorted by creation, email prefix search, interactive sign-ins, client_credentials
 *    and refresh grants (as a share of the RS256 signing floor), and the server's RSS afterwards.
 *
 * Prints each figure at 1,000 users next to the same figure at --users and next to its target.
 *
 * Usage: npm run bench:scale [-- -- --sqlite | --postgres, --users 1000000, --baseline 1000,
 * --duration 10] (two `--`: the root script runs this one through a second `npm run`).
 *
 * Exits non-zero when the figures cannot be trusted (setup fails, the server dies, a response under
 * load is not what it should be), never because a target is missed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { hashPassword } from '../packages/server/src/crypto/passwords.js';
import { newDatabaseUserId } from '../packages/server/src/domain/ids.js';
import type { UserRecord } from '../packages/server/src/domain/types.js';
import { openStorage } from '../packages/server/src/storage/index.js';
import type { KyselyStorage } from '../packages/server/src/storage/kysely/index.js';
import {
  allCores,
  cpuMs,
  expectAlive,
  expectStatus,
  loadAverage,
  onCleanUp,
  percentile,
  pinProcess,
  positiveInteger,
  printTable,
  rs256SignatureMicros,
  rssMb,
  runBenchmark,
  type ServerProcess,
  serverDir,
  sleep,
} from './lib/harness.js';
import {
  createMachineClient,
  createNativeApp,
  DATABASE_CONNECTION,
  expectBuiltServer,
  type Latchkey,
  type ManagementApi,
  postgresBaseUrl,
  type StorageKind,
  startLatchkey,
  storageLabel,
} from './lib/latchkey.js';
import {
  API_IDENTIFIER,
  PASSWORD,
  type PhaseFigures,
  REGISTERED_CALLBACK,
  runRefreshes,
  runSignIns,
  signInOnce,
  type Tenant,
  totalFailures,
  verifyFlow,
} from './lib/sign-in.js';

/** Idle time before RSS is read again: two of the server's memory-trim intervals (src/memory-trim.ts). */
const REST_SECONDS = 25;
const TARGETS = { lookupP99Ms: 20, metadataP99Ms: 100, prefixP99Ms: 50, signInP99Ratio: 1.1, floorShare: 0.9, rssMb: 200 };
const WARMUP_SECONDS = 2;
const REFRESH_WARMUP_PER_CONNECTION = 50;
/** A query whose first answer takes longer than this is measured once, not loaded: the run stays bounded. */
const SLOW_QUERY_MS = 2000;
/** A first answer not back by then is given up, and the server restarted so that it stops working on it. */
const QUERY_TIMEOUT_MS = 20_000;
const SERVER_CORE = '0';
const LOAD_CORE = '1';
const API_SCOPE = 'read:bench';
/** Batches in flight while seeding PostgreSQL, under its pool's 10 connections (SQLite has one, so one at a time). */
const SEED_CONCURRENCY = 4;
/** Users per users.insertMany call: a few multi-row statements. */
const SEED_CALL = 2000;
/**
 * Users per transaction. SQLite writes every page a transaction dirtied at its commit, and the
 * indexes' random keys touch most of their pages: fewer, larger commits write each page fewer times.
 */
const SEED_BATCH = { sqlite: 20_000, postgres: SEED_CALL };

const { values: args } = parseArgs({
  options: {
    sqlite: { type: 'boolean', default: false },
    postgres: { type: 'boolean', default: false },
    users: { type: 'string', default: '1000000' },
    baseline: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    'query-connections': { type: 'string', default: '4' },
    connections: { type: 'string', default: '8' },
    'refresh-connections': { type: 'string', default: '10' },
    'seed-minutes': { type: 'string', default: '20' },
  },
});
const storages: StorageKind[] = args.sqlite === args.postgres ? ['sqlite', 'postgres'] : args.sqlite ? ['sqlite'] : ['postgres'];
const userCount = positiveInteger(args.users, '--users');
const baselineCount = positiveInteger(args.baseline, '--baseline');
const durationSeconds = positiveInteger(args.duration, '--duration');
const queryConnections = positiveInteger(args['query-connections'], '--query-connections');
const signInConnections = positiveInteger(args.connections, '--connections');
const refreshConnections = positiveInteger(args['refresh-connections'], '--refresh-connections');
const seedMinutes = positiveInteger(args['seed-minutes'], '--seed-minutes');
if (signInConnections > baselineCount)
  throw new Error('--baseline must be at least --connections: each sign-in connection has its own user');

// ---------------------------------------------------------------------------------------------
// The seeded users: every field derives from the user's index, so any user's email can be named
// again without keeping a million of them.

const FIRST_NAMES = [
  'Alice',
  'Alina',
  'Alistair',
  'Ali',
  'Alix',
  'Aaron',
  'Amara',
  'Ben',
  'Bianca',
  'Carlos',
  'Chloe',
  'Daniel',
  'Dana',
  'Elena',
  'Emeka',
  'Fatima',
  'Felix',
  'Grace',
  'Hiro',
  'Ines',
  'Isaac',
  'Jana',
  'John',
  'Kenji',
  'Laura',
  'Liam',
  'Maria',
  'Mateo',
  'Mei',
  'Noah',
  'Nora',
  'Olga',
  'Omar',
  'Priya',
  'Quentin',
  'Rosa',
  'Samuel',
  'Sofia',
  'Tariq',
  'Uma',
  'Victor',
  'Wen',
  'Xavier',
  'Yara',
  'Yusuf',
  'Zoe',
  'Hannah',
  'Lucas',
  'Emma',
  'Leon',
];
const LAST_NAMES = [
  'Smith',
  'Garcia',
  'Müller',
  'Rossi',
  'Dubois',
  'Nowak',
  'Kim',
  'Nguyen',
  'Okafor',
  'Silva',
  'Tanaka',
  'Ivanova',
  'Cohen',
  'Jensen',
  'Kowalski',
  'Haddad',
  'Patel',
  'Singh',
  'Brown',
  'Wilson',
  'Martin',
  'Bernard',
  'Fischer',
  'Lopez',
  'Novak',
  'Andersson',
  'Costa',
  'Yilmaz',
  'Murphy',
  'Schmidt',
];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'example.io', 'students.example.edu', 'example.co.uk'];
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'pt-BR', 'ja-JP', 'pl-PL'];
const SIGNUP_SOURCES = ['web', 'ios', 'android', 'desktop', 'invite', 'import'];
const SEED_FROM = Date.parse('2019-01-01T00:00:00Z');
const SEED_TO = Date.parse('2026-11-30T00:00:00Z');

/** A small deterministic generator (mulberry32), seeded per user. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(items: readonly T[], r: () => number): T => items[Math.floor(r() * items.length)]!;

/** The ASCII form of a name for an email address (Müller: muller). */
const emailPart = (name: string) =>
  name
    .normalize('NFD')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();

function seededName(index: number): { first: string; last: string; email: string } {
  const r = random(index * 2654435761);
  const first = pick(FIRST_NAMES, r);
  const last = pick(LAST_NAMES, r);
  return { first, last, email: `${emailPart(first)}.${emailPart(last)}+${index}@${pick(DOMAINS, r)}` };
}

function seededUser(index: number, passwordHash: string): UserRecord {
  const { first, last, email } = seededName(index);
  const r = random(index * 2654435761 + 1);
  const createdMs = SEED_FROM + Math.floor(r() * (SEED_TO - SEED_FROM));
  const updatedMs = createdMs + Math.floor(r() * (SEED_TO - createdMs));
  const loggedIn = r() < 0.7;
  const roll = r();
  const plan = roll < 0.1 ? 'pro' : roll < 0.15 ? 'team' : 'free';
  const userId = newDatabaseUserId();
  return {
    connection: DATABASE_CONNECTION,
    passwordHash,
    user: {
      user_id: userId,
      email,
      email_verified: r() < 0.8,
      name: `${first} ${last}`,
      nickname: email.split('@')[0]!,
      given_name: first,
      family_name: last,
      identities: [{ connection: DATABASE_CONNECTION, user_id: userId.slice('auth0|'.length), provider: 'auth0', isSocial: false }],
      app_metadata: {
        roles: r() < 0.05 ? ['admin', 'member'] : ['member'],
        tenant_id: `ten_${Math.floor(r() * 5000)}`,
        billing_id: `cus_${index}`,
      },
      user_metadata: { plan, locale: pick(LOCALES, r), signup_source: pick(SIGNUP_SOURCES, r), newsletter: r() < 0.3 },
      created_at: new Date(createdMs).toISOString(),
      updated_at: new Date(updatedMs).toISOString(),
      ...(loggedIn ? { last_login: new Date(updatedMs).toISOString() } : {}),
      logins_count: loggedIn ? 1 + Math.floor(r() * 300) : 0,
      blocked: r() < 0.002,
    },
  };
}

/** The users who sign in during the run, one per sign-in connection, spread over the index range. */
const signInIndexes = (count: number) =>
  Array.from({ length: signInConnections }, (_, k) => Math.floor(((k + 0.5) * count) / signInConnections));

/** Users looked up by email: spread over the index range, none of them a sign-in user. */
const lookupIndexes = (count: number) => Array.from({ length: 100 }, (_, k) => Math.floor(((k + 0.37) * count) / 100));

// ---------------------------------------------------------------------------------------------
// PostgreSQL: each size gets a database of its own, so its size on disk is the seeded data's

interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
}

async function pgQuery(connectionString: string, ...statements: string[]): Promise<Array<Record<string, unknown>>> {
  const pg = createRequire(join(serverDir, 'package.json'))('pg') as { Client: new (config: { connectionString: string }) => PgClient };
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    let rows: Array<Record<string, unknown>> = [];
    for (const statement of statements) rows = (await client.query(statement)).rows;
    return rows;
  } finally {
    await client.end();
  }
}

/** `postgres://…/test` becomes `postgres://…/<name>`. */
function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function createPostgresDatabase(): Promise<string> {
  const name = `latchkey_scale_${randomBytes(6).toString('hex')}`;
  await pgQuery(postgresBaseUrl, `CREATE DATABASE "${name}"`);
  onCleanUp(`drop database ${name}`, async () => void (await pgQuery(postgresBaseUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));
  return withDatabase(postgresBaseUrl, name);
}

// ---------------------------------------------------------------------------------------------
// Seeding

interface Seeded {
  count: number;
  seconds: number;
  perSecond: number;
  /**
   * Users per CPU second of this process, which runs SQLite itself: a rate that a loaded machine
   * changes less than the elapsed one. On PostgreSQL the server's CPU is not in it.
   */
  perCpuSecond: number;
  /** SQLite: the file (and its WAL, if any); PostgreSQL: pg_database_size. */
  databaseMb: number;
  /** PostgreSQL: the users table with its indexes and TOAST; SQLite: NaN. */
  usersTableMb: number;
}

async function seed(latchkey: Latchkey, count: number, hashes: { signIn: string; other: string }): Promise<Seeded> {
  const postgresDatabase = latchkey.storage === 'postgres' ? latchkey.databaseUrl.split('?')[0]! : undefined;
  const databaseName = postgresDatabase ? new URL(postgresDatabase).pathname.slice(1) : '';
  // A bulk load need not wait for the WAL flush of every row: commits are asynchronous in this
  // database while seeding (the rows are the same), and synchronous again before the server restarts.
  if (postgresDatabase) await pgQuery(postgresBaseUrl, `ALTER DATABASE "${databaseName}" SET synchronous_commit = off`);
  const opened = await openStorage(latchkey.databaseUrl);
  // SQLite's page cache (2 MB by default) is far smaller than the pages a 20,000-user transaction
  // dirties: it spills them to the WAL and writes them again. 1 GB on this connection, for seeding only
  // (measured: 2,584 users/s against 1,834, 60,000 users).
  if (latchkey.storage === 'sqlite') await sql`pragma cache_size = -1048576`.execute((opened as KyselyStorage).db);
  const signIns = new Set(signInIndexes(count));
  // The users the run names (sign-ins, lookups) go first, so a seeding stopped at its time bound still has them.
  const named = [...new Set([...signInIndexes(count), ...lookupIndexes(count)])];
  const namedSet = new Set(named);
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  const deadline = startedAt + seedMinutes * 60_000;
  let inserted = 0;
  let reported = 0;
  let stopped = false;
  const insertBatch = async (indexes: number[]) => {
    await opened.transaction(async (tx) => {
      for (let i = 0; i < indexes.length; i += SEED_CALL) {
        const batch = indexes.slice(i, i + SEED_CALL);
        const records = batch.map((index) => seededUser(index, signIns.has(index) ? hashes.signIn : hashes.other));
        const { skipped } = await tx.users.insertMany(records);
        const first = skipped[0];
        if (first) throw new Error(`seeding: user ${batch[first.index]} (${records[first.index]!.user.email}): ${first.taken} taken`);
      }
    });
    inserted += indexes.length;
  };
  let next = 0;
  // One users.insertMany per batch: one transaction of multi-row INSERTs, where a transaction of
  // one-row inserts reached a few hundred users/s and a commit per row about 1,000.
  const insertBatches = async () => {
    while (next < count && !stopped) {
      const first = next;
      const end = Math.min(count, first + SEED_BATCH[latchkey.storage]);
      next = end;
      const indexes: number[] = [];
      for (let index = first; index < end; index++) if (!namedSet.has(index)) indexes.push(index);
      await insertBatch(indexes);
      if (inserted - reported >= 100_000) {
        reported = inserted;
        const seconds = (performance.now() - startedAt) / 1000;
        console.log(
          `    seeded ${inserted.toLocaleString('en-US')} users in ${seconds.toFixed(0)} s (${(inserted / seconds).toFixed(0)}/s)`,
        );
      }
      if (performance.now() > deadline && !stopped) {
        stopped = true;
        console.log(`    seeding stopped at its time bound (--seed-minutes ${seedMinutes}) with ${inserted.toLocaleString('en-US')} users`);
      }
    }
  };
  try {
    await insertBatch(named);
    // SQLite has one connection, so its transactions take turns; PostgreSQL's pool runs several.
    await Promise.all(Array.from({ length: latchkey.storage === 'postgres' ? SEED_CONCURRENCY : 1 }, insertBatches));
  } finally {
    await opened.close();
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  let databaseMb: number;
  let usersTableMb = Number.NaN;
  if (postgresDatabase) {
    await pgQuery(postgresBaseUrl, `ALTER DATABASE "${databaseName}" RESET synchronous_commit`);
    const schema = new URL(latchkey.databaseUrl).searchParams.get('schema') ?? 'public';
    // What autovacuum would do within a minute of such a load: the planner sees the new rows.
    const [row] = await pgQuery(
      postgresDatabase,
      `ANALYZE "${schema}".users, "${schema}".user_search_terms`,
      `SELECT pg_database_size(current_database()) AS db, pg_total_relation_size('"${schema}".users') AS users`,
    );
    databaseMb = Number(row?.db) / 1e6;
    usersTableMb = Number(row?.users) / 1e6;
  } else {
    const file = latchkey.databaseUrl.slice('sqlite:'.length);
    databaseMb = [file, `${file}-wal`].filter((f) => existsSync(f)).reduce((sum, f) => sum + statSync(f).size, 0) / 1e6;
  }
  return { count: inserted, seconds, perSecond: inserted / seconds, perCpuSecond: inserted / cpuSeconds, databaseMb, usersTableMb };
}

// ---------------------------------------------------------------------------------------------
// Management API queries under load

interface QueryFigures {
  p50Ms: number;
  p99Ms: number;
  perSecond: number;
  completed: number;
  failed: number;
  /** The query was too slow to load: the figures are one request's. */
  single: boolean;
  /** Not even one answer within QUERY_TIMEOUT_MS. */
  timedOut: boolean;
  samples: string[];
}

interface Query {
  name: string;
  target: number;
  /** Paths under /api/v2, used in turn. */
  paths: string[];
  /** Checks the first answer before any load; throws if it is not what the query must find. */
  check(body: unknown): void;
}

async function runQuery(issuer: string, token: string, query: Query): Promise<QueryFigures> {
  const url = (path: string) => `${issuer}api/v2${path}`;
  const headers = { authorization: `Bearer ${token}` };
  const probeStart = performance.now();
  let response: Response;
  let text: string;
  try {
    response = await fetch(url(query.paths[0]!), { headers, signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
    text = await response.text();
  } catch (err) {
    if ((err as Error).name !== 'TimeoutError') throw err;
    return { p50Ms: Number.NaN, p99Ms: Number.NaN, perSecond: 0, completed: 0, failed: 0, single: true, timedOut: true, samples: [] };
  }
  const probeMs = performance.now() - probeStart;
  if (response.status !== 200) throw new Error(`${query.name}: expected 200, got ${response.status} ${text.slice(0, 300)}`);
  query.check(JSON.parse(text));
  if (probeMs > SLOW_QUERY_MS) {
    return {
      p50Ms: probeMs,
      p99Ms: probeMs,
      perSecond: 1000 / probeMs,
      completed: 1,
      failed: 0,
      single: true,
      timedOut: false,
      samples: [],
    };
  }

  let nextPath = 0;
  const samples: string[] = [];
  let failed = 0;
  const requests: autocannon.Request[] = [
    {
      setupRequest: (request) => ({ ...request, path: `/api/v2${query.paths[nextPath++ % query.paths.length]}` }),
      onResponse: (status, body) => {
        if (status === 200) return;
        failed++;
        if (samples.length < 3) samples.push(`${status} ${body.slice(0, 200)}`);
      },
    },
  ];
  const options = { url: issuer, connections: queryConnections, headers, requests, timeout: 30 };
  await autocannon({ ...options, duration: 1 });
  const latencies: number[] = [];
  const startedAt = performance.now();
  await new Promise<autocannon.Result>((resolveRun, reject) => {
    const instance = autocannon({ ...options, duration: durationSeconds }, (err, result) => (err ? reject(err) : resolveRun(result)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) latencies.push(responseTime);
    });
  });
  const elapsed = performance.now() - startedAt;
  const sorted = Float64Array.from(latencies).sort();
  return {
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    perSecond: (latencies.length * 1000) / elapsed,
    completed: latencies.length,
    failed,
    single: false,
    timedOut: false,
    samples,
  };
}

function userQueries(count: number): Query[] {
  const lookups = lookupIndexes(count).map((index) => seededName(index).email);
  const expectOne = (email: string) => (body: unknown) => {
    const users = body as Array<{ email?: string }>;
    if (!Array.isArray(users) || users.length !== 1 || users[0]?.email !== email) {
      throw new Error(`expected exactly ${email}, got ${JSON.stringify(body).slice(0, 300)}`);
    }
  };
  const search = (q: string, extra = '') => `/users?q=${encodeURIComponent(q)}&search_engine=v3${extra}`;
  return [
    {
      name: 'q=email:"…"',
      target: TARGETS.lookupP99Ms,
      paths: lookups.map((email) => search(`email:"${email}"`)),
      check: expectOne(lookups[0]!),
    },
    {
      name: 'users-by-email',
      target: TARGETS.lookupP99Ms,
      paths: lookups.map((email) => `/users-by-email?email=${encodeURIComponent(email)}`),
      check: expectOne(lookups[0]!),
    },
    {
      name: 'q=user_metadata.plan:"pro", sort=created_at:-1',
      target: TARGETS.metadataP99Ms,
      paths: [search('user_metadata.plan:"pro"', '&sort=created_at:-1')],
      check: (body) => {
        const users = body as Array<{ created_at: string; user_metadata?: { plan?: string } }>;
        const sorted = users.every((u, i) => i === 0 || u.created_at <= users[i - 1]!.created_at);
        if (!Array.isArray(users) || users.length === 0 || !users.every((u) => u.user_metadata?.plan === 'pro') || !sorted) {
          throw new Error(`expected pro users, newest first, got ${JSON.stringify(body).slice(0, 300)}`);
        }
      },
    },
    {
      name: 'q=email:ali*',
      target: TARGETS.prefixP99Ms,
      paths: [search('email:ali*')],
      check: (body) => {
        const users = body as Array<{ email?: string }>;
        if (!Array.isArray(users) || users.length === 0 || !users.every((u) => u.email?.startsWith('ali'))) {
          throw new Error(`expected users whose email starts with ali, got ${JSON.stringify(body).slice(0, 300)}`);
        }
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Tokens: client_credentials on one core

interface TokenFigures {
  perSecond: number;
  cpuUsEach: number;
  p99Ms: number;
  failed: number;
}

async function runClientCredentials(server: ServerProcess, issuer: string, form: string): Promise<TokenFigures> {
  const base = {
    url: `${issuer}oauth/token`,
    connections: 10,
    method: 'POST' as const,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  };
  await autocannon({ ...base, duration: WARMUP_SECONDS });
  const latencies: number[] = [];
  const cpuBefore = cpuMs(server);
  const startedAt = performance.now();
  const result = await new Promise<autocannon.Result>((resolveRun, reject) => {
    const instance = autocannon({ ...base, duration: durationSeconds }, (err, done) => (err ? reject(err) : resolveRun(done)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) latencies.push(responseTime);
    });
  });
  const cpuUsed = cpuMs(server) - cpuBefore;
  const sorted = Float64Array.from(latencies).sort();
  return {
    perSecond: (latencies.length * 1000) / (performance.now() - startedAt),
    cpuUsEach: latencies.length > 0 ? (cpuUsed * 1000) / latencies.length : Number.NaN,
    p99Ms: percentile(sorted, 99),
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

// ---------------------------------------------------------------------------------------------
// One backend at one size

interface Measured {
  storage: StorageKind;
  count: number;
  loadAverage: string;
  seeded: Seeded;
  restartMs: number;
  queries: Array<{ query: Query; figures: QueryFigures }>;
  signIns: PhaseFigures;
  clientCredentials: TokenFigures;
  refreshes: PhaseFigures;
  rssMb: number;
  rssAtRestMb: number;
}

interface Setup {
  tenant: Tenant;
  clientCredentialsForm: string;
}

async function setUpTenant(latchkey: Latchkey, management: ManagementApi['management'], count: number): Promise<Setup> {
  expectStatus(
    'create resource server',
    await management('POST', '/resource-servers', {
      identifier: API_IDENTIFIER,
      name: 'Benchmark API',
      signing_alg: 'RS256',
      scopes: [{ value: API_SCOPE, description: 'Read benchmark data' }],
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
    }),
    201,
  );
  const clientId = await createNativeApp(management, REGISTERED_CALLBACK);
  const m2m = await createMachineClient(management, API_IDENTIFIER, API_SCOPE);
  const clientCredentialsForm = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: m2m.client_id,
    client_secret: m2m.client_secret,
    audience: API_IDENTIFIER,
    scope: API_SCOPE,
  }).toString();
  return {
    tenant: { issuer: latchkey.issuer, clientId, emails: signInIndexes(count).map((i) => seededName(i).email) },
    clientCredentialsForm,
  };
}

async function benchCase(storage: StorageKind, count: number, hashes: { signIn: string; other: string }): Promise<Measured> {
  const atStart = loadAverage();
  console.log(`\n${storageLabel(storage)}, ${count.toLocaleString('en-US')} users (load average ${atStart})`);
  pinProcess(process.pid, allCores());
  const postgresUrl = storage === 'postgres' ? await createPostgresDatabase() : undefined;
  const latchkey = await startLatchkey(storage, undefined, {}, postgresUrl);
  const { management } = await latchkey.managementApi();
  const { tenant, clientCredentialsForm } = await setUpTenant(latchkey, management, count);
  await latchkey.server.stop();

  const seeded = await seed(latchkey, count, hashes);
  console.log(
    `  seeded ${seeded.count.toLocaleString('en-US')} users in ${seeded.seconds.toFixed(1)} s (${seeded.perSecond.toFixed(0)}/s, ` +
      `${seeded.perCpuSecond.toFixed(0)} per CPU second of the seeding process), ` +
      `database ${seeded.databaseMb.toFixed(1)} MB` +
      `${Number.isNaN(seeded.usersTableMb) ? '' : `, users table ${seeded.usersTableMb.toFixed(1)} MB`}`,
  );

  const relaunched = await latchkey.relaunch();
  let { server } = relaunched;
  const { managementToken } = await latchkey.managementApi();
  // Queries and tokens: latchkey alone on one core, the load from the other.
  pinProcess(server.pid, SERVER_CORE);
  pinProcess(process.pid, LOAD_CORE);
  const queries: Measured['queries'] = [];
  for (const query of userQueries(count)) {
    const figures = await runQuery(latchkey.issuer, managementToken, query);
    expectAlive(server, `during ${query.name}`);
    if (figures.timedOut) {
      console.log(`  ${query.name}: no answer within ${QUERY_TIMEOUT_MS / 1000} s; restarting the server`);
      await server.stop();
      server = (await latchkey.relaunch()).server;
      pinProcess(server.pid, SERVER_CORE);
    } else {
      console.log(`  ${query.name}: p99 ${figures.p99Ms.toFixed(1)} ms${figures.single ? ' (one request: too slow to load)' : ''}`);
    }
    queries.push({ query, figures });
  }
  const clientCredentials = await runClientCredentials(server, latchkey.issuer, clientCredentialsForm);
  expectAlive(server, 'during client_credentials');

  // Sign-ins on the whole machine, as the login-flow benchmark measures them.
  pinProcess(server.pid, allCores());
  pinProcess(process.pid, allCores());
  const verifiedToken = await verifyFlow(tenant, tenant.emails[0]!);
  await runSignIns(tenant, server, storage, { seconds: WARMUP_SECONDS, connections: signInConnections });
  const refreshTokens: string[] = [verifiedToken];
  const signIns = await runSignIns(tenant, server, storage, { seconds: durationSeconds, connections: signInConnections }, refreshTokens);
  expectAlive(server, 'during the sign-ins');
  while (refreshTokens.length < refreshConnections * 2) refreshTokens.push((await signInOnce(tenant, tenant.emails[0]!)).refresh_token);
  const tokens = refreshTokens.splice(0, refreshConnections);

  pinProcess(server.pid, SERVER_CORE);
  pinProcess(process.pid, LOAD_CORE);
  await runRefreshes(tenant, server, storage, tokens, refreshTokens, { perConnection: REFRESH_WARMUP_PER_CONNECTION });
  const refreshes = await runRefreshes(tenant, server, storage, tokens, refreshTokens, { seconds: durationSeconds });
  expectAlive(server, 'during the refreshes');
  await sleep(500);
  const rss = rssMb(server);
  // At rest: the server returns what V8 kept once it has been idle for LATCHKEY_MEMORY_TRIM_IDLE_SECONDS (10 s).
  await sleep(REST_SECONDS * 1000);
  const rssAtRest = rssMb(server);
  await server.stop();
  pinProcess(process.pid, allCores());
  return {
    storage,
    count,
    loadAverage: atStart,
    seeded,
    restartMs: relaunched.startupMs,
    queries,
    signIns,
    clientCredentials,
    refreshes,
    rssMb: rss,
    rssAtRestMb: rssAtRest,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (n: number) => (Number.isNaN(n) ? '-' : `${n.toFixed(1)} ms`);
const percent = (n: number) => (Number.isNaN(n) ? '-' : `${(n * 100).toFixed(0)}%`);
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

function printBackend(small: Measured, large: Measured, signatureUs: number): boolean {
  const label = (m: Measured) => `${m.seeded.count.toLocaleString('en-US')} users`;
  console.log(
    `\n${storageLabel(large.storage)}: ${label(small)} vs ${label(large)} ` +
      `(load average at their starts: ${small.loadAverage} / ${large.loadAverage})`,
  );
  const rows: string[][] = [];
  const seedRow = (m: Measured) => `${m.seeded.perSecond.toFixed(0)}/s, ${m.seeded.seconds.toFixed(1)} s`;
  rows.push(['seeding rate', seedRow(small), seedRow(large), '', '']);
  const size = (m: Measured) =>
    `${m.seeded.databaseMb.toFixed(1)} MB${Number.isNaN(m.seeded.usersTableMb) ? '' : ` (users ${m.seeded.usersTableMb.toFixed(1)} MB)`}`;
  rows.push(['database size', size(small), size(large), '', '']);
  rows.push(['start-up on the seeded data', ms(small.restartMs), ms(large.restartMs), '', '']);
  for (const [i, { query, figures }] of large.queries.entries()) {
    const before = small.queries[i]!.figures;
    const shown = (f: QueryFigures) =>
      f.timedOut ? `> ${QUERY_TIMEOUT_MS / 1000} s (no answer)` : `${ms(f.p99Ms)}${f.single ? ' (1 request)' : ''}`;
    const met = !figures.timedOut && figures.p99Ms < query.target;
    rows.push([`${query.name} p99 (${queryConnections} conn.)`, shown(before), shown(figures), `< ${query.target} ms`, verdict(met)]);
  }
  const signInLimit = small.signIns.p99Ms * TARGETS.signInP99Ratio;
  rows.push([
    `sign-in p99 (${signInConnections} conn.)`,
    ms(small.signIns.p99Ms),
    ms(large.signIns.p99Ms),
    `< ${ms(signInLimit)} (+10%)`,
    verdict(large.signIns.p99Ms < signInLimit),
  ]);
  rows.push(['sign-ins/s', small.signIns.perSecond.toFixed(0), large.signIns.perSecond.toFixed(0), '', '']);
  // A token is one RS256 signature, a refresh two: the share of the floor is the signatures' CPU over the request's.
  const ccShare = (m: Measured) => signatureUs / m.clientCredentials.cpuUsEach;
  const ccRow = (m: Measured) =>
    `${percent(ccShare(m))} (${m.clientCredentials.perSecond.toFixed(0)}/s, ${m.clientCredentials.cpuUsEach.toFixed(0)} µs)`;
  rows.push(['client_credentials, share of floor', ccRow(small), ccRow(large), '>= 90%', verdict(ccShare(large) >= TARGETS.floorShare)]);
  const refreshShare = (m: Measured) => (2 * signatureUs) / (m.refreshes.cpu.serverMsEach * 1000);
  const refreshRow = (m: Measured) =>
    `${percent(refreshShare(m))} (${m.refreshes.perSecond.toFixed(0)}/s, ${(m.refreshes.cpu.serverMsEach * 1000).toFixed(0)} µs)`;
  rows.push([
    'refresh, share of floor',
    refreshRow(small),
    refreshRow(large),
    '>= 90%',
    verdict(refreshShare(large) >= TARGETS.floorShare),
  ]);
  rows.push(['server RSS at the end of the run', `${small.rssMb.toFixed(1)} MB`, `${large.rssMb.toFixed(1)} MB`, '', '']);
  rows.push([
    `server RSS after the run, ${REST_SECONDS} s idle`,
    `${small.rssAtRestMb.toFixed(1)} MB`,
    `${large.rssAtRestMb.toFixed(1)} MB`,
    `< ${TARGETS.rssMb} MB`,
    verdict(large.rssAtRestMb < TARGETS.rssMb),
  ]);
  printTable(['figure', label(small), label(large), 'target', `at ${label(large)}`], rows, '  ');

  let valid = true;
  for (const m of [small, large]) {
    for (const { query, figures } of m.queries) {
      if (figures.failed === 0) continue;
      valid = false;
      console.log(`  ${label(m)}, ${query.name}: ${figures.failed} responses not 200: ${figures.samples.join(' | ')}`);
    }
    for (const [phase, f] of [
      ['sign-ins', m.signIns],
      ['refreshes', m.refreshes],
    ] as const) {
      if (totalFailures(f) === 0) continue;
      valid = false;
      console.log(`  ${label(m)}, ${phase}: ${totalFailures(f)} failures: ${f.failureSamples.join(' | ')}`);
    }
    if (m.clientCredentials.failed > 0) {
      valid = false;
      console.log(`  ${label(m)}, client_credentials: ${m.clientCredentials.failed} responses not 200`);
    }
  }
  return valid;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  expectBuiltServer();
  if (cpus().length < 2) throw new Error('the token phases need two cores: one for latchkey, one for the load');
  console.log(
    `scale on ${storages.map(storageLabel).join(' and ')}: ` +
      `${baselineCount.toLocaleString('en-US')} then ${userCount.toLocaleString('en-US')} users; ` +
      `${durationSeconds} s per measurement; queries with ${queryConnections} connections, sign-ins with ${signInConnections}, ` +
      `refreshes with ${refreshConnections}, client_credentials with 10`,
  );
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, load average ${loadAverage()}`);
  const signatureUs = rs256SignatureMicros();
  // One argon2id hash for every seeded user, a real one for those who sign in: hashing a million passwords is not the point.
  const hashes = { signIn: await hashPassword(PASSWORD), other: await hashPassword(randomBytes(16).toString('base64url')) };

  let valid = true;
  const results: Array<[Measured, Measured]> = [];
  for (const storage of storages) {
    const small = await benchCase(storage, baselineCount, hashes);
    const large = await benchCase(storage, userCount, hashes);
    results.push([small, large]);
  }
  console.log(`\nFloor: one RS256 signature costs ${signatureUs.toFixed(0)} µs of CPU here (node:crypto); a share of the floor is`);
  console.log("the signatures' CPU (one per client_credentials token, two per refresh) over the server's CPU per request, on one core.");
  for (const [small, large] of results) valid = printBackend(small, large, signatureUs) && valid;
  console.log(`\nload average at the end: ${loadAverage()}`);
  if (!valid) {
    console.error('\nbenchmark invalid: some responses under load were not what they should be (see above)');
    return 1;
  }
  return 0;
}

await runBenchmark(main);
