/**
 * Import jobs live in the database, not in a node: a job whose node died is resumed by another from
 * its committed cursor (or failed visibly after repeated deaths), a node that shuts down hands its
 * job back, and when several nodes share one database each chunk is imported by exactly one of them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobRecord } from '../src/domain/jobs/types.js';
import { storeUsersFile } from '../src/domain/jobs/user-import-file.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let first: TestServer;
let connectionId: string;

before(async () => {
  // Short leases so that a dead node's claim runs out within the test.
  first = await startTestServer({ config: { jobsLeaseSeconds: 1 } });
  connectionId = (await first.management('GET', '/connections?name=Username-Password-Authentication')).body[0].id;
});
after(() => first.close());

const usersFile = (prefix: string, count: number) =>
  Buffer.from(
    JSON.stringify(Array.from({ length: count }, (_, i) => ({ email: `${prefix}${i}@restart.example`, user_id: `${prefix}-${i}` }))),
  );

async function upload(server: TestServer, body: Buffer): Promise<string> {
  const form = new FormData();
  form.append('users', new Blob([new Uint8Array(body)]), 'users.json');
  form.append('connection_id', connectionId);
  const response = await fetch(`${server.issuer}api/v2/jobs/users-imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await server.managementToken()}` },
    body: form,
  });
  const json = (await response.json()) as Record<string, any>;
  assert.equal(response.status, 201, JSON.stringify(json));
  return json.id;
}

async function finished(server: TestServer, id: string): Promise<Record<string, any>> {
  for (let i = 0; i < 600; i++) {
    const { body } = await server.management('GET', `/jobs/${id}`);
    if (body.status === 'completed' || body.status === 'failed') return body;
    await sleep(100);
  }
  assert.fail(`job ${id} did not finish`);
}

/** Users of the file stored, read page by page from storage (the search API caps its totals at 1000, as Auth0's does). */
async function countUsers(server: TestServer, prefix: string): Promise<number> {
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const page = await server.ctx.storage.users.listRecordsAfter(
      { connection: 'Username-Password-Authentication', ...(after ? { afterUserId: after } : {}) },
      1000,
    );
    if (page.length === 0) return count;
    count += page.filter((r) => r.user.email?.startsWith(prefix)).length;
    after = page[page.length - 1]!.user.user_id;
  }
}

/** A job as a node that died mid-run leaves it: claimed, its lease run out, its cursor where it got to. */
async function abandonedJob(prefix: string, count: number, attempts: number): Promise<string> {
  const id = `job_${prefix}${Date.now()}`;
  const now = Date.now();
  const job: JobRecord = {
    id,
    type: 'users_import',
    status: 'uploading',
    data: { connection_id: connectionId, connection: 'Username-Password-Authentication' },
    cursor: 0,
    owner: 'a-node-that-died',
    leaseUntil: new Date(now + 60_000).toISOString(),
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + 3600_000).toISOString(),
  };
  const { storage } = first.ctx;
  assert.ok(await storage.jobs.create(job, 10));
  const { chunks, records } = await storeUsersFile(storage.jobs, id, [usersFile(prefix, count)]);
  const claimed: JobRecord = {
    ...job,
    status: 'processing',
    leaseUntil: new Date(now - 1000).toISOString(),
    data: { ...job.data, chunks, records, attempts, started_at: new Date(now).toISOString() },
  };
  assert.ok(await storage.jobs.save(claimed, 'a-node-that-died'));
  return id;
}

test('a job whose node died (claimed, lease run out) is resumed by a live node and completes', async () => {
  const id = await abandonedJob('dead', 2500, 1);
  const job = await finished(first, id);
  assert.equal(job.status, 'completed', JSON.stringify(job));
  assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 2500, total: 2500 });
  assert.equal(await countUsers(first, 'dead'), 2500);
});

test('a job whose node keeps dying is failed visibly, with why', async () => {
  const id = await abandonedJob('doomed', 10, 5);
  const job = await finished(first, id);
  assert.equal(job.status, 'failed');
  assert.match(job.status_details, /interrupted 5 times/);
  const errors = await first.management('GET', `/jobs/${id}/errors`);
  assert.equal(errors.status, 200);
  assert.equal(errors.body.status, 'failed', 'a job that failed as a whole is shown with its status_details');
});

test('a node shut down mid-job hands it back, and another node sharing the database finishes it once', async () => {
  const second = await startTestServer({ shareWith: first, config: { jobsLeaseSeconds: 1 } });
  // The first node must not take the job before the second stops: it is paused for the upload.
  await first.ctx.jobs.stop();
  try {
    const id = await upload(second, usersFile('handover', 5000));
    // Stop the node once it has committed a chunk (if it is that fast, it may even have finished).
    for (let i = 0; i < 200 && ((await first.ctx.storage.jobs.get(id))?.cursor ?? 0) < 1; i++) await sleep(10);
    await second.close();
    const stored = await first.ctx.storage.jobs.get(id);
    assert.ok(stored);
    assert.notEqual(stored.status, 'failed');
    const restarted = await startTestServer({ shareWith: first, config: { jobsLeaseSeconds: 1 } });
    try {
      const job = await finished(restarted, id);
      assert.equal(job.status, 'completed');
      assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 5000, total: 5000 });
      assert.equal(await countUsers(restarted, 'handover'), 5000);
    } finally {
      await restarted.close();
    }
  } finally {
    // The first node's runner stays stopped (a runner is not restarted): the next test uses fresh nodes.
  }
});

test('two nodes on one database run one job once: every chunk imported exactly once', async () => {
  const a = await startTestServer({ shareWith: first, config: { jobsLeaseSeconds: 1 } });
  const b = await startTestServer({ shareWith: first, config: { jobsLeaseSeconds: 1 } });
  try {
    const ids = [await upload(a, usersFile('twice-a', 3000)), await upload(b, usersFile('twice-b', 3000))];
    a.ctx.jobs.wake();
    b.ctx.jobs.wake();
    for (const id of ids) {
      const job = await finished(a, id);
      assert.equal(job.status, 'completed');
      // Had a chunk run twice, its second run would have found its users taken and counted them failed.
      assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 3000, total: 3000 });
      const errors = await a.management('GET', `/jobs/${id}/errors`);
      assert.equal(errors.status, 204);
    }
    assert.equal(await countUsers(a, 'twice-a'), 3000);
    assert.equal(await countUsers(a, 'twice-b'), 3000);
  } finally {
    await a.close();
    await b.close();
  }
});
