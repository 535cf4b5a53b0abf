/**
 * Audit events benchmark: what recording tenant log events costs a sign-in.
 *
 * The same tenant on a fresh latchkey four times, alternately without events
 * (`LATCHKEY_LOGS_RETENTION_DAYS=0`: nothing recorded) and with them (the default), so that the
 * machine's drift falls on both sides alike. Each run: interactive sign-ins (authorization code + PKCE through the
 * hosted page, argon2id; each writes an `s` and a `seacft` event) under load and from one
 * connection (p50), then refresh grants from one connection (no argon2id: a `sertft` event per
 * request, where the event's share shows plainly). Afterwards, how many events the runs stored.
 *
 * Prints the figures and the target (sign-in p50 and sign-ins/s within 5% of "without"); never
 * fails because the target is missed, only when the benchmark cannot be trusted.
 *
 * Usage: npm run bench:audit-events [-- -- --postgres --duration 10]
 */
import { parseArgs } from 'node:util';
import {
  expectAlive,
  expectStatus,
  loadAverage,
  positiveInteger,
  printTable,
  printTargetChecks,
  runBenchmark,
  type TargetCheck,
} from './lib/harness.js';
import { createNativeApp, DATABASE_CONNECTION, expectBuiltServer, type StorageKind, startLatchkey } from './lib/latchkey.js';
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

const TARGET_RATIO = 0.95;
const WARMUP_SECONDS = 2;

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
  },
});
const durationSeconds = positiveInteger(args.duration, '--duration');
const connections = positiveInteger(args.connections, '--connections');

interface RunFigures {
  loaded: PhaseFigures;
  single: PhaseFigures;
  refreshes: PhaseFigures;
  /** Events the server stored (read back by checkpoint paging); 0 when recording is off. */
  stored: number;
}

async function countStored(management: (method: string, path: string) => Promise<{ status: number; body: any }>): Promise<number> {
  let stored = 0;
  let from: string | undefined;
  for (;;) {
    const page = expectStatus('logs', await management('GET', `/logs?take=100${from ? `&from=${from}` : ''}`), 200) as Array<{
      log_id: string;
    }>;
    stored += page.length;
    if (page.length < 100) return stored;
    from = page.at(-1)!.log_id;
  }
}

async function oneRun(storage: StorageKind, withEvents: boolean): Promise<RunFigures> {
  const latchkey = await startLatchkey(storage, undefined, withEvents ? {} : { LATCHKEY_LOGS_RETENTION_DAYS: '0' });
  const { management } = await latchkey.managementApi();
  expectStatus(
    'create resource server',
    await management('POST', '/resource-servers', {
      identifier: API_IDENTIFIER,
      name: 'Benchmark API',
      signing_alg: 'RS256',
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
    }),
    201,
  );
  const clientId = await createNativeApp(management, REGISTERED_CALLBACK);
  const emails: string[] = [];
  for (let i = 0; i < connections; i++) {
    const email = `bench-user-${i}@bench.latchkey.local`;
    expectStatus('create user', await management('POST', '/users', { connection: DATABASE_CONNECTION, email, password: PASSWORD }), 201);
    emails.push(email);
  }
  const tenant: Tenant = { issuer: latchkey.issuer, clientId, emails };
  await verifyFlow(tenant, emails[0] ?? '');
  await runSignIns(tenant, latchkey.server, storage, { seconds: WARMUP_SECONDS, connections });
  const loaded = await runSignIns(tenant, latchkey.server, storage, { seconds: durationSeconds, connections });
  const single = await runSignIns(tenant, latchkey.server, storage, { seconds: durationSeconds, connections: 1 });
  const tokens = [(await signInOnce(tenant, emails[0] ?? '')).refresh_token];
  const spares = [(await signInOnce(tenant, emails[0] ?? '')).refresh_token];
  const refreshes = await runRefreshes(tenant, latchkey.server, storage, tokens, spares, { seconds: durationSeconds });
  expectAlive(latchkey.server, 'during the run');
  // The log is written in the background, a few times a second: give the last batch time to land.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const stored = await countStored(management);
  await latchkey.server.stop();
  return { loaded, single, refreshes, stored };
}

async function benchBackend(storage: StorageKind): Promise<boolean> {
  // Alternating, so that the machine's drift (other load coming and going) falls on both sides alike.
  const runs: Array<[string, RunFigures]> = [];
  for (const [label, withEvents] of [
    ['without events (1)', false],
    ['with events (1)', true],
    ['without events (2)', false],
    ['with events (2)', true],
  ] as const) {
    runs.push([label, await oneRun(storage, withEvents)]);
  }
  let valid = true;
  for (const [label, run] of runs) {
    const failures = totalFailures(run.loaded) + totalFailures(run.single) + totalFailures(run.refreshes);
    if (failures > 0) {
      valid = false;
      console.log(`${label}: ${failures} failures, e.g. ${[...run.loaded.failureSamples, ...run.refreshes.failureSamples].join('; ')}`);
    }
    if (label.startsWith('without') && run.stored !== 0) {
      valid = false;
      console.log(`${label}: ${run.stored} events were stored`);
    }
  }
  const mean = (withEvents: boolean, figure: (run: RunFigures) => number) => {
    const chosen = runs.filter(([label]) => label.startsWith('with ') === withEvents).map(([, run]) => figure(run));
    return chosen.reduce((a, b) => a + b, 0) / chosen.length;
  };
  const side = (withEvents: boolean) => ({
    perSecond: mean(withEvents, (r) => r.loaded.perSecond),
    p50Ms: mean(withEvents, (r) => r.single.p50Ms),
    refreshPerSecond: mean(withEvents, (r) => r.refreshes.perSecond),
    refreshP50Ms: mean(withEvents, (r) => r.refreshes.p50Ms),
  });
  const withEvents = side(true);
  const without = side(false);

  console.log(`\nlatchkey (${storage === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`);
  printTable(
    [
      'run',
      `sign-ins/s (${connections} conn.)`,
      'sign-in p50 ms (1 conn.)',
      'server CPU ms / sign-in',
      'refresh/s (1 conn.)',
      'refresh p50 ms',
      'server CPU µs / refresh',
      'events stored',
    ],
    runs.map(([label, run]) => [
      label,
      run.loaded.perSecond.toFixed(1),
      run.single.p50Ms.toFixed(2),
      run.loaded.cpu.serverMsEach.toFixed(2),
      run.refreshes.perSecond.toFixed(0),
      run.refreshes.p50Ms.toFixed(2),
      (run.refreshes.cpu.serverMsEach * 1000).toFixed(0),
      String(run.stored),
    ]),
  );
  console.log('\nTargets (means of the two runs each)');
  const within = `within ${Math.round((1 - TARGET_RATIO) * 100)}% of without`;
  // Server CPU per operation moves least with the machine's other load: the plainest view of the cost.
  const cpuWith = mean(true, (r) => r.loaded.cpu.serverMsEach);
  const cpuWithout = mean(false, (r) => r.loaded.cpu.serverMsEach);
  const refreshCpuWith = mean(true, (r) => r.refreshes.cpu.serverMsEach) * 1000;
  const refreshCpuWithout = mean(false, (r) => r.refreshes.cpu.serverMsEach) * 1000;
  console.log(
    `server CPU per sign-in: ${cpuWith.toFixed(2)} ms with events, ${cpuWithout.toFixed(2)} ms without; ` +
      `per refresh: ${refreshCpuWith.toFixed(0)} µs with, ${refreshCpuWithout.toFixed(0)} µs without`,
  );
  const checks: TargetCheck[] = [
    [
      `sign-in p50 with events ${within}`,
      without.p50Ms / withEvents.p50Ms >= TARGET_RATIO,
      `${withEvents.p50Ms.toFixed(2)} vs ${without.p50Ms.toFixed(2)} ms`,
    ],
    [
      `sign-ins/s with events ${within}`,
      withEvents.perSecond / without.perSecond >= TARGET_RATIO,
      `${((withEvents.perSecond / without.perSecond) * 100).toFixed(0)}%`,
    ],
    [
      `refresh p50 with events ${within}`,
      without.refreshP50Ms / withEvents.refreshP50Ms >= TARGET_RATIO,
      `${withEvents.refreshP50Ms.toFixed(2)} vs ${without.refreshP50Ms.toFixed(2)} ms`,
    ],
    [
      `refreshes/s with events ${within}`,
      withEvents.refreshPerSecond / without.refreshPerSecond >= TARGET_RATIO,
      `${((withEvents.refreshPerSecond / without.refreshPerSecond) * 100).toFixed(0)}%`,
    ],
  ];
  printTargetChecks(checks);
  return valid;
}

async function main(): Promise<number> {
  expectBuiltServer();
  console.log(
    `audit-events: ${durationSeconds} s per run after ${WARMUP_SECONDS} s warm-up; node ${process.version}, load average ${loadAverage()}`,
  );
  let valid = await benchBackend('sqlite');
  if (args.postgres) valid = (await benchBackend('postgres')) && valid;
  if (!valid) {
    console.error('\nbenchmark invalid: some responses were not what they should be (see above)');
    return 1;
  }
  return 0;
}

await runBenchmark(main);
