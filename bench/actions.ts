/**
 * Actions benchmark: what one deployed Action costs on the paths it runs on, on one latchkey.
 *
 * 1. client_credentials (server on core 0, load on core 1): tokens/s and CPU per token with no
 *    credentials-exchange Action, then with one that sets a claim. Target: >= 70% of the throughput
 *    without it; the difference in CPU per token is what one Action call costs (both threads).
 * 2. Interactive sign-ins (authorization code + PKCE through the hosted page, argon2id; whole
 *    machine): p50 and sign-ins/s with no post-login Action, then with one that sets two claims.
 *    Targets: extra p50 < 5 ms, sign-ins/s within 10%.
 *
 * Prints the figures and the targets; never fails because one is missed, only when the benchmark
 * cannot be trusted (setup fails, the server dies, a response is not what it should be).
 *
 * Usage: npm run bench:actions [-- -- --postgres --duration 10]
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  allCores,
  cpuMs,
  expectAlive,
  expectStatus,
  loadAverage,
  percentile,
  pinProcess,
  positiveInteger,
  printTable,
  printTargetChecks,
  runBenchmark,
  type ServerProcess,
  type TargetCheck,
} from './lib/harness.js';
import {
  createMachineClient,
  createNativeApp,
  DATABASE_CONNECTION,
  expectBuiltServer,
  type StorageKind,
  startLatchkey,
} from './lib/latchkey.js';
import {
  API_IDENTIFIER,
  autocannonRun,
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

const TARGETS = { ccThroughputRatio: 0.7, extraP50Ms: 5, signInRatio: 0.9 };
const WARMUP_SECONDS = 2;
const SERVER_CORE = '0';
const LOAD_CORE = '1';
const SCOPE = 'read:bench';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    'sign-in-connections': { type: 'string', default: '8' },
  },
});
const durationSeconds = positiveInteger(args.duration, '--duration');
const connections = positiveInteger(args.connections, '--connections');
const signInConnections = positiveInteger(args['sign-in-connections'], '--sign-in-connections');

const CREDENTIALS_ACTION = `exports.onExecuteCredentialsExchange = async (event, api) => {
  api.accessToken.setCustomClaim('https://bench.example/tenant', event.client.client_id);
};`;
const POST_LOGIN_ACTION = `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://bench.example/email', event.user.email);
  api.accessToken.setCustomClaim('https://bench.example/roles', event.authorization.roles);
};`;

type Management = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** Creates, deploys and binds the code as the trigger's only Action (no code: empties the flow). */
async function bind(management: Management, trigger: string, version: string, code?: string): Promise<void> {
  const bindings: unknown[] = [];
  if (code !== undefined) {
    const name = `bench-${trigger}`;
    const created = expectStatus(
      'create action',
      await management('POST', '/actions/actions', { name, supported_triggers: [{ id: trigger, version }], code }),
      201,
    ) as { id: string };
    const deployed = await management('POST', `/actions/actions/${created.id}/deploy`);
    if (deployed.status !== 200 && deployed.status !== 202) throw new Error(`deploy: ${deployed.status} ${JSON.stringify(deployed.body)}`);
    bindings.push({ ref: { type: 'action_name', value: name }, display_name: name });
  }
  expectStatus('bind', await management('PATCH', `/actions/triggers/${trigger}/bindings`, { bindings }), 200);
}

interface CcFigures {
  perSecond: number;
  cpuUsEach: number;
  p50Ms: number;
  failed: number;
}

async function clientCredentialsLoad(server: ServerProcess, tokenUrl: string, form: string, claim: boolean): Promise<CcFigures> {
  const check = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  const body = (await check.json()) as { access_token?: string };
  const payload = JSON.parse(Buffer.from(String(body.access_token).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  if (check.status !== 200 || 'https://bench.example/tenant' in payload !== claim) {
    throw new Error(`client_credentials ${claim ? 'with' : 'without'} the Action: unexpected token ${JSON.stringify(payload)}`);
  }
  const base = {
    url: tokenUrl,
    connections,
    method: 'POST' as const,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  };
  await autocannonRun({ ...base, duration: WARMUP_SECONDS });
  const latencies: number[] = [];
  const cpuBefore = cpuMs(server);
  const started = performance.now();
  const result = await autocannonRun({ ...base, duration: durationSeconds }, (instance) => {
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status === 200) latencies.push(ms);
    });
  });
  const elapsed = performance.now() - started;
  const sorted = Float64Array.from(latencies).sort();
  return {
    perSecond: (latencies.length * 1000) / elapsed,
    cpuUsEach: ((cpuMs(server) - cpuBefore) * 1000) / Math.max(1, latencies.length),
    p50Ms: percentile(sorted, 50),
    failed: result.non2xx + result.errors,
  };
}

async function benchBackend(storage: StorageKind): Promise<boolean> {
  let valid = true;
  // Part 1: server on one core, load from the other.
  const cores = cpus().length;
  if (cores >= 2) execFileSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
  const latchkey = await startLatchkey(storage, SERVER_CORE);
  const { management } = await latchkey.managementApi();
  expectStatus(
    'create resource server',
    await management('POST', '/resource-servers', {
      identifier: API_IDENTIFIER,
      name: 'Benchmark API',
      signing_alg: 'RS256',
      scopes: [{ value: SCOPE, description: 'Read' }],
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
    }),
    201,
  );
  const m2m = await createMachineClient(management, API_IDENTIFIER, SCOPE);
  const tokenUrl = `${latchkey.issuer}oauth/token`;
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: m2m.client_id,
    client_secret: m2m.client_secret,
    audience: API_IDENTIFIER,
  }).toString();
  // Without, with, without again: the machine's other load drifts, the mean of the two "without" runs less.
  const ccFirst = await clientCredentialsLoad(latchkey.server, tokenUrl, form, false);
  await bind(management, 'credentials-exchange', 'v2', CREDENTIALS_ACTION);
  const ccWith = await clientCredentialsLoad(latchkey.server, tokenUrl, form, true);
  await bind(management, 'credentials-exchange', 'v2');
  const ccSecond = await clientCredentialsLoad(latchkey.server, tokenUrl, form, false);
  const ccWithout: CcFigures = {
    perSecond: (ccFirst.perSecond + ccSecond.perSecond) / 2,
    cpuUsEach: (ccFirst.cpuUsEach + ccSecond.cpuUsEach) / 2,
    p50Ms: (ccFirst.p50Ms + ccSecond.p50Ms) / 2,
    failed: ccFirst.failed + ccSecond.failed,
  };
  expectAlive(latchkey.server, 'during client_credentials');
  await latchkey.server.stop();

  // Part 2: sign-ins on the whole machine, as login-flow measures them.
  pinProcess(process.pid, allCores());
  const signInServer = await startLatchkey(storage);
  const api = await signInServer.managementApi();
  expectStatus(
    'create resource server',
    await api.management('POST', '/resource-servers', {
      identifier: API_IDENTIFIER,
      name: 'Benchmark API',
      signing_alg: 'RS256',
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
    }),
    201,
  );
  const clientId = await createNativeApp(api.management, REGISTERED_CALLBACK);
  const emails: string[] = [];
  for (let i = 0; i < signInConnections; i++) {
    const email = `bench-user-${i}@bench.latchkey.local`;
    expectStatus(
      'create user',
      await api.management('POST', '/users', { connection: DATABASE_CONNECTION, email, password: PASSWORD }),
      201,
    );
    emails.push(email);
  }
  const tenant: Tenant = { issuer: signInServer.issuer, clientId, emails };
  // Sign-ins/s under load (all connections); p50 from one connection signing in over and over, where
  // queueing behind argon2id does not hide what the Action adds.
  const signIns = async () => {
    await verifyFlow(tenant, emails[0] ?? '');
    await runSignIns(tenant, signInServer.server, storage, { seconds: WARMUP_SECONDS, connections: signInConnections });
    const loaded = await runSignIns(tenant, signInServer.server, storage, { seconds: durationSeconds, connections: signInConnections });
    const single = await runSignIns(tenant, signInServer.server, storage, { seconds: durationSeconds, connections: 1 });
    // Refresh grants run the same post-login flow without argon2id: the Action's share shows plainly.
    const tokens = [(await signInOnce(tenant, emails[0] ?? '')).refresh_token];
    const spares = [(await signInOnce(tenant, emails[0] ?? '')).refresh_token];
    const refreshes = await runRefreshes(tenant, signInServer.server, storage, tokens, spares, { seconds: durationSeconds });
    return { ...loaded, p50Ms: single.p50Ms, failed: loaded.failed + single.failed + totalFailures(refreshes), refreshes };
  };
  const siWithout = await signIns();
  await bind(api.management, 'post-login', 'v3', POST_LOGIN_ACTION);
  const siWith = await signIns();
  expectAlive(signInServer.server, 'during sign-ins');
  await signInServer.server.stop();

  for (const [label, figures] of [
    ['sign-ins without', siWithout],
    ['sign-ins with', siWith],
  ] as const) {
    if (totalFailures(figures) > 0) {
      valid = false;
      console.log(`${label}: ${totalFailures(figures)} failures, e.g. ${figures.failureSamples.join('; ')}`);
    }
  }
  if (ccWithout.failed + ccWith.failed > 0) {
    valid = false;
    console.log(`client_credentials: ${ccWithout.failed + ccWith.failed} failed responses`);
  }

  console.log(`\n${latchkey.name}`);
  printTable(
    ['run', 'per s', 'p50 ms (sign-in: 1 connection)', 'server CPU µs each'],
    [
      ['client_credentials, no Action', ccWithout.perSecond.toFixed(0), ccWithout.p50Ms.toFixed(2), ccWithout.cpuUsEach.toFixed(0)],
      [
        'client_credentials, 1 credentials-exchange Action',
        ccWith.perSecond.toFixed(0),
        ccWith.p50Ms.toFixed(2),
        ccWith.cpuUsEach.toFixed(0),
      ],
      ['sign-in, no Action', siWithout.perSecond.toFixed(1), siWithout.p50Ms.toFixed(2), (siWithout.cpu.serverMsEach * 1000).toFixed(0)],
      [
        'sign-in, 1 post-login Action (2 claims)',
        siWith.perSecond.toFixed(1),
        siWith.p50Ms.toFixed(2),
        (siWith.cpu.serverMsEach * 1000).toFixed(0),
      ],
      ...(
        [
          ['refresh (1 connection), no Action', siWithout.refreshes],
          ['refresh (1 connection), 1 post-login Action', siWith.refreshes],
        ] as const
      ).map(([label, f]: readonly [string, PhaseFigures]) => [
        label,
        f.perSecond.toFixed(0),
        f.p50Ms.toFixed(2),
        (f.cpu.serverMsEach * 1000).toFixed(0),
      ]),
    ],
  );
  const ccRatio = ccWith.perSecond / ccWithout.perSecond;
  const extraP50 = siWith.p50Ms - siWithout.p50Ms;
  const refreshExtraP50 = siWith.refreshes.p50Ms - siWithout.refreshes.p50Ms;
  const siRatio = siWith.perSecond / siWithout.perSecond;
  console.log(`\none Action call: ${(ccWith.cpuUsEach - ccWithout.cpuUsEach).toFixed(0)} µs of server CPU (all threads) per token`);
  console.log('\nTargets');
  const checks: TargetCheck[] = [
    [
      `client_credentials with the Action >= ${TARGETS.ccThroughputRatio * 100}% of without`,
      ccRatio >= TARGETS.ccThroughputRatio,
      `${(ccRatio * 100).toFixed(0)}%`,
    ],
    [`sign-in extra p50 < ${TARGETS.extraP50Ms} ms`, extraP50 < TARGETS.extraP50Ms, `${extraP50.toFixed(2)} ms`],
    [
      `the same flow on refresh (no argon2id): extra p50 < ${TARGETS.extraP50Ms} ms`,
      refreshExtraP50 < TARGETS.extraP50Ms,
      `${refreshExtraP50.toFixed(2)} ms`,
    ],
    [
      `sign-ins/s within ${Math.round((1 - TARGETS.signInRatio) * 100)}% of none`,
      siRatio >= TARGETS.signInRatio,
      `${(siRatio * 100).toFixed(0)}%`,
    ],
  ];
  printTargetChecks(checks);
  return valid;
}

async function main(): Promise<number> {
  expectBuiltServer();
  console.log(
    `actions: ${durationSeconds} s per run after ${WARMUP_SECONDS} s warm-up; node ${process.version}, load average ${loadAverage()}`,
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
