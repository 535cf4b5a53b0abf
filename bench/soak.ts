/**
 * Soak: a mixed load held at about 70% of what the server can do, for a minute by default, to see
 * that nothing creeps: RSS at the start and the end (flat), errors (none), p99 per minute (steady).
 *
 * The mix is what a tenant with desktop apps and back-end services sees: interactive sign-ins
 * (authorization code with PKCE through the hosted login page, argon2id included), rotating refresh
 * grants, and client credentials. Capacity is measured first, briefly, as a closed loop of the same
 * mix; the soak is then an open loop (operations started at a fixed rate whatever the answers), so a
 * server that slows down shows it in p99 instead of quietly getting less work.
 *
 *   npm run bench:soak                          # from the repo root: builds the server, 60 s on SQLite
 *   npm run bench:soak -- -- --seconds 20       # shorter
 *   cd bench && node --import tsx soak.ts --postgres --load 0.7
 *
 * It only prints. It exits non-zero only when the figures cannot be trusted (the server dies or the
 * set-up fails); errors under load are counted and printed, with a few samples.
 */
import { parseArgs } from 'node:util';
import { expectStatus, percentile, positiveInteger, printTable, rssMb, runBenchmark, sleep } from './lib/harness.js';
import { createMachineClient, createNativeApp, DATABASE_CONNECTION, startLatchkey } from './lib/latchkey.js';
import { API_IDENTIFIER, PASSWORD, REGISTERED_CALLBACK, refreshForm, signInOnce, type Tenant } from './lib/sign-in.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    'probe-seconds': { type: 'string', default: '5' },
    load: { type: 'string', default: '0.7' },
    postgres: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '8' },
    users: { type: 'string', default: '10' },
  },
});
const seconds = positiveInteger(args.seconds, '--seconds');
const probeSeconds = positiveInteger(args['probe-seconds'], '--probe-seconds');
const concurrency = positiveInteger(args.concurrency, '--concurrency');
const userCount = positiveInteger(args.users, '--users');
const loadFactor = Number(args.load);
if (!(loadFactor > 0 && loadFactor <= 1)) throw new Error(`--load must be in (0, 1], got ${args.load}`);

/** Out of every 10 operations: 1 sign-in, 4 refreshes, 5 client credentials. */
const MIX: Kind[] = ['signIn', 'refresh', 'cc', 'refresh', 'cc', 'refresh', 'cc', 'refresh', 'cc', 'cc'];
type Kind = 'signIn' | 'refresh' | 'cc';
/** Operations in flight at most during the soak: beyond it an operation is counted as dropped, not queued without bound. */
const MAX_IN_FLIGHT = 512;

interface Sample {
  at: number;
  kind: Kind;
  ms: number;
  error?: string;
}

await runBenchmark(async () => {
  const latchkey = await startLatchkey(args.postgres ? 'postgres' : 'sqlite');
  const { management } = await latchkey.managementApi();
  expectStatus(
    'create resource server',
    await management('POST', '/resource-servers', {
      identifier: API_IDENTIFIER,
      name: 'Soak API',
      signing_alg: 'RS256',
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
      scopes: [{ value: 'read:soak', description: 'read' }],
    }),
    201,
  );
  const clientId = await createNativeApp(management, REGISTERED_CALLBACK);
  const machine = await createMachineClient(management, API_IDENTIFIER, 'read:soak');
  const emails: string[] = [];
  for (let i = 0; i < userCount; i++) {
    const email = `soak-${i}@bench.latchkey.local`;
    expectStatus('create user', await management('POST', '/users', { connection: DATABASE_CONNECTION, email, password: PASSWORD }), 201);
    emails.push(email);
  }
  const tenant: Tenant = { issuer: latchkey.issuer, clientId, emails };

  // Refresh tokens rotate: each is taken out of the pool for its refresh and its successor put back,
  // so no two requests ever present the same one (that would be reuse, and revoke the family).
  const refreshPool: string[] = [];
  for (let i = 0; i < 32; i++) refreshPool.push((await signInOnce(tenant, emails[i % emails.length]!)).refresh_token);

  let signIns = 0;
  const operations: Record<Kind, () => Promise<void>> = {
    signIn: async () => {
      const tokens = await signInOnce(tenant, emails[signIns++ % emails.length]!);
      refreshPool.push(tokens.refresh_token);
    },
    refresh: async () => {
      const token = refreshPool.shift();
      if (!token) throw new Error('no refresh token free (pool empty)');
      const response = await fetch(`${tenant.issuer}oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: refreshForm(tenant, token),
      });
      const body = await response.text();
      if (response.status !== 200) {
        refreshPool.push(token);
        throw new Error(`refresh: ${response.status} ${body.slice(0, 200)}`);
      }
      refreshPool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
    },
    cc: async () => {
      const response = await fetch(`${tenant.issuer}oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: machine.client_id,
          client_secret: machine.client_secret,
          audience: API_IDENTIFIER,
        }),
      });
      const body = await response.text();
      if (response.status !== 200) throw new Error(`client credentials: ${response.status} ${body.slice(0, 200)}`);
    },
  };

  const samples: Sample[] = [];
  let next = 0;
  const timed = async (startedAt: number): Promise<void> => {
    const kind = MIX[next++ % MIX.length]!;
    const t0 = performance.now();
    try {
      await operations[kind]();
      samples.push({ at: startedAt, kind, ms: performance.now() - t0 });
    } catch (err) {
      samples.push({ at: startedAt, kind, ms: performance.now() - t0, error: (err as Error).message });
    }
  };

  // 1. Capacity: a closed loop of the mix for a few seconds.
  console.log(`soak: ${latchkey.name}, measuring capacity for ${probeSeconds} s with ${concurrency} concurrent operations`);
  const probeEnd = performance.now() + probeSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < probeEnd) await timed(performance.now());
    }),
  );
  const probed = samples.splice(0);
  const probeErrors = probed.filter((s) => s.error).length;
  const capacity = (probed.length - probeErrors) / probeSeconds;
  const rate = capacity * loadFactor;
  console.log(`capacity ≈ ${capacity.toFixed(0)} operations/s (${probeErrors} errors); soak at ${rate.toFixed(0)}/s for ${seconds} s`);

  // 2. The soak: open loop at `rate`, started on a fixed schedule.
  await sleep(1000);
  const rssStart = rssMb(latchkey.server);
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  for (let i = 0; ; i++) {
    const due = start + (i * 1000) / rate;
    if (due >= start + seconds * 1000) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    if (latchkey.server.exitedEarly()) throw new Error(`the server ${latchkey.server.exitedEarly()} during the soak`);
    if (inFlight.size >= MAX_IN_FLIGHT) {
      dropped++;
      continue;
    }
    const op = timed(due - start).finally(() => inFlight.delete(op));
    inFlight.add(op);
  }
  await Promise.all(inFlight);
  const rssEnd = rssMb(latchkey.server);

  // 3. Figures per minute (the last one may be partial).
  const rows: string[][] = [];
  for (let minute = 0; minute * 60_000 < seconds * 1000; minute++) {
    const inMinute = samples.filter((s) => s.at >= minute * 60_000 && s.at < (minute + 1) * 60_000);
    const ok = Float64Array.from(inMinute.filter((s) => !s.error).map((s) => s.ms)).sort();
    const span = Math.min(60, seconds - minute * 60);
    const byKind = (kind: Kind) => inMinute.filter((s) => s.kind === kind).length;
    rows.push([
      `${minute + 1}`,
      `${span} s`,
      `${inMinute.length}`,
      `${byKind('signIn')}/${byKind('refresh')}/${byKind('cc')}`,
      `${(inMinute.length / span).toFixed(0)}`,
      `${inMinute.filter((s) => s.error).length}`,
      ok.length ? percentile(ok, 50).toFixed(1) : '-',
      ok.length ? percentile(ok, 99).toFixed(1) : '-',
    ]);
  }
  console.log('');
  printTable(['minute', 'span', 'operations', 'sign-in/refresh/cc', 'ops/s', 'errors', 'p50 ms', 'p99 ms'], rows);
  const errors = samples.filter((s) => s.error);
  console.log('');
  console.log(`RSS: ${rssStart.toFixed(1)} MB at the start, ${rssEnd.toFixed(1)} MB at the end (${(rssEnd - rssStart).toFixed(1)} MB)`);
  console.log(`errors: ${errors.length} of ${samples.length}; dropped (over ${MAX_IN_FLIGHT} in flight): ${dropped}`);
  for (const sample of errors.slice(0, 5)) console.log(`  ${sample.kind}: ${sample.error}`);
  return 0;
});
