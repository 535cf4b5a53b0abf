/**
 * Bulk user import and export jobs at scale: for each backend (SQLite, PostgreSQL), on a fresh
 * database, the built server imports --users (default 100,000) users with bcrypt hashes through the
 * real endpoint (`POST /api/v2/jobs/users-imports`, multipart, as Auth0's SDK sends it), and the job
 * is polled to completion; then the same users are exported (`POST /api/v2/jobs/users-exports`) and
 * the gzip file is downloaded from the job's `location`.
 *
 * Prints users/s (upload to completion, and the job alone), the server's RSS sampled every 50 ms
 * (peak) during each job, and the export's time and size, next to the targets. Prints, never asserts.
 *
 * Usage: npm run bench:user-import [-- -- --sqlite | --postgres, --users 100000]
 */
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { hash } from '@node-rs/bcrypt';
import {
  expectAlive,
  expectStatus,
  loadAverage,
  positiveInteger,
  printTargetChecks,
  rssMb,
  runBenchmark,
  type ServerProcess,
  sleep,
} from './lib/harness.js';
import { DATABASE_CONNECTION, expectBuiltServer, type Latchkey, type StorageKind, startLatchkey, storageLabel } from './lib/latchkey.js';

const TARGETS = { usersPerSecond: 5000, rssMb: 250 };

const { values: args } = parseArgs({
  options: {
    sqlite: { type: 'boolean', default: false },
    postgres: { type: 'boolean', default: false },
    users: { type: 'string', default: '100000' },
  },
});
const storages: StorageKind[] = args.sqlite === args.postgres ? ['sqlite', 'postgres'] : args.sqlite ? ['sqlite'] : ['postgres'];
const userCount = positiveInteger(args.users, '--users');

/** Samples the server's RSS until stopped; answers the peak (MB). */
function rssSampler(server: ServerProcess): { stop(): number } {
  let peak = rssMb(server);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(server));
    } catch {
      // The server exited: the failure is reported by the request that meets it.
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb(server));
    },
  };
}

async function usersFile(count: number): Promise<Buffer> {
  // One real bcrypt hash (cost 10, Auth0's recommendation) for everyone: hashing 100,000 would
  // take the benchmark machine an hour and measures nothing of the import.
  const passwordHash = await hash('Imported-pass-1', { cost: 10 });
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(
      JSON.stringify({
        email: `user${i}@import.bench`,
        user_id: `bench${i.toString(16).padStart(8, '0')}`,
        email_verified: i % 2 === 0,
        given_name: `Given${i}`,
        family_name: `Family${i % 1000}`,
        name: `Given${i} Family${i % 1000}`,
        app_metadata: { plan: i % 3 === 0 ? 'pro' : 'free' },
        user_metadata: { locale: 'en' },
        password_hash: passwordHash,
      }),
    );
  }
  return Buffer.from(`[${parts.join(',\n')}]`);
}

async function waitForJob(management: (m: string, p: string) => Promise<{ status: number; body: any }>, id: string, server: ServerProcess) {
  let resets = 0;
  for (;;) {
    expectAlive(server, `job ${id}`);
    // A keep-alive socket left idle through a long upload may be closed under the client as it is
    // reused (ECONNRESET): such a poll is sent again, on a new connection, a few times at most.
    const answer = await management('GET', `/jobs/${id}`).catch((err: Error) => {
      if (++resets > 3) throw new Error(`polling job ${id}: ${err.message} (${String((err as { cause?: unknown }).cause)})`);
      return undefined;
    });
    if (!answer) continue;
    const job = expectStatus(`job ${id}`, answer, 200);
    if (job.status === 'completed' || job.status === 'failed') return job;
    await sleep(100);
  }
}

async function run(storage: StorageKind, file: Buffer): Promise<void> {
  console.log(`\n${storageLabel(storage)}: ${userCount.toLocaleString('en')} users, file ${(file.length / 1e6).toFixed(1)} MB`);
  const latchkey = await startLatchkey(storage, undefined, {
    LATCHKEY_JOBS_IMPORT_MAX_BYTES: String(file.length + 1024),
    LATCHKEY_LOG_LEVEL: process.env.LOG ?? 'silent',
    // For trying V8 heap settings on the server alone, e.g. LATCHKEY_BENCH_SERVER_NODE_OPTIONS=--max-semi-space-size=4.
    ...(process.env.LATCHKEY_BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.LATCHKEY_BENCH_SERVER_NODE_OPTIONS } : {}),
  });
  try {
    await measure(latchkey, file);
  } catch (err) {
    console.error(latchkey.server.exitedEarly() ?? '', latchkey.server.output());
    throw err;
  }
}

async function measure(latchkey: Latchkey, file: Buffer): Promise<void> {
  const { management, managementToken } = await latchkey.managementApi();
  const connections = expectStatus('connections', await management('GET', `/connections?name=${DATABASE_CONNECTION}`), 200);
  const connectionId = connections[0].id as string;
  const idleRss = rssMb(latchkey.server);

  const form = new FormData();
  form.append('users', new Blob([new Uint8Array(file)], { type: 'application/json' }), 'users.json');
  form.append('connection_id', connectionId);
  const importRss = rssSampler(latchkey.server);
  const started = performance.now();
  const response = await fetch(`${latchkey.issuer}api/v2/jobs/users-imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${managementToken}` },
    body: form,
  }).catch((err: Error) => {
    importRss.stop();
    throw new Error(`upload: ${err.message} (${String((err as { cause?: unknown }).cause)})\n${latchkey.server.output()}`);
  });
  const created = expectStatus('import', { status: response.status, body: await response.json() }, 201);
  const uploaded = performance.now();
  const rssAfterUpload = rssMb(latchkey.server);
  const job = await waitForJob(management, created.id, latchkey.server);
  const done = performance.now();
  const importPeak = importRss.stop();
  if (job.status !== 'completed') throw new Error(`import ${created.id} ${job.status}: ${job.status_details ?? ''}`);
  const perSecond = userCount / ((done - started) / 1000);
  console.log(`  import: upload ${((uploaded - started) / 1000).toFixed(1)} s, job ${((done - uploaded) / 1000).toFixed(1)} s;`);
  console.log(
    `          ${Math.round(perSecond).toLocaleString('en')} users/s end to end, ` +
      `${Math.round(userCount / ((done - uploaded) / 1000)).toLocaleString('en')} users/s in the job`,
  );
  console.log(
    `          summary ${JSON.stringify(job.summary)}; RSS idle ${idleRss.toFixed(0)} MB, ` +
      `after the upload ${rssAfterUpload.toFixed(0)} MB, peak ${importPeak.toFixed(0)} MB`,
  );

  const exportRss = rssSampler(latchkey.server);
  const exportStarted = performance.now();
  const exportJob = expectStatus(
    'export',
    await management('POST', '/jobs/users-exports', { connection_id: connectionId, format: 'json' }),
    201,
  );
  const exported = await waitForJob(management, exportJob.id, latchkey.server);
  const exportDone = performance.now();
  const download = await fetch(exported.location).catch((err: Error) => {
    exportRss.stop();
    throw new Error(
      `download of ${exported.location}: ${err.message} (${String((err as { cause?: unknown }).cause)})\n${latchkey.server.output()}`,
    );
  });
  const gz = Buffer.from(await download.arrayBuffer());
  const downloaded = performance.now();
  const exportPeak = exportRss.stop();
  const lines = gunzipSync(gz).toString('utf8').trim().split('\n').length;
  console.log(
    `  export: job ${((exportDone - exportStarted) / 1000).toFixed(1)} s, download ${((downloaded - exportDone) / 1000).toFixed(1)} s,` +
      ` ${(gz.length / 1e6).toFixed(1)} MB gzip, ${lines.toLocaleString('en')} lines; RSS peak ${exportPeak.toFixed(0)} MB`,
  );
  printTargetChecks([
    [
      `import >= ${TARGETS.usersPerSecond.toLocaleString('en')} users/s`,
      perSecond >= TARGETS.usersPerSecond,
      `${Math.round(perSecond)} users/s`,
    ],
    [`RSS during import < ${TARGETS.rssMb} MB`, importPeak < TARGETS.rssMb, `${importPeak.toFixed(0)} MB`],
    [`RSS during export < ${TARGETS.rssMb} MB`, exportPeak < TARGETS.rssMb, `${exportPeak.toFixed(0)} MB`],
  ]);
  await latchkey.server.stop();
}

await runBenchmark(async () => {
  expectBuiltServer();
  console.log(`load average ${loadAverage()}`);
  const file = await usersFile(userCount);
  for (const storage of storages) await run(storage, file);
  return 0;
});
