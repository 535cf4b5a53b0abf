import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { JobRecord } from '../src/domain/jobs/types.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { twoNodesOnOneDatabase } from './helpers/storage.js';

/**
 * Job claims and the unfinished-job limit raced for real, on two storages over one database (as two
 * nodes have): exactly one claim wins a job, a lapsed lease can be taken over, progress is written
 * only by the holder, and concurrent creations never exceed the limit.
 */
const N = 20;
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

const job = (id: string, overrides: Partial<JobRecord> = {}): JobRecord => ({
  id,
  type: 'users_import',
  status: 'pending',
  data: { connection_id: 'con_x', connection: 'db', chunks: 1, records: 1 },
  cursor: 0,
  owner: null,
  leaseUntil: null,
  created_at: at(0),
  expires_at: at(1000),
  ...overrides,
});

describe(`job claims and limits (${backend})`, () => {
  const nodes = twoNodesOnOneDatabase();
  let storage: Storage;
  let other: Storage;
  before(() => {
    ({ storage, other } = nodes);
  });

  test('one of many parallel claims takes a pending job; a lapsed lease is taken over; only the holder saves', async () => {
    assert.ok(await storage.jobs.create(job('job_claim1'), 10));
    const claims = await Promise.all(Array.from({ length: N }, (_, i) => (i % 2 ? other : storage).jobs.claim(`node${i}`, at(1), at(2))));
    const won = claims.filter((c) => c?.id === 'job_claim1');
    assert.equal(won.length, 1, 'exactly one claim wins');
    const holder = won[0]!.owner!;
    assert.equal(await storage.jobs.claim('late', at(1), at(2)), undefined, 'a held lease is not taken');

    assert.equal(await storage.jobs.save({ ...won[0]!, cursor: 1 }, 'someone-else'), false, 'only the holder writes progress');
    assert.equal(await storage.jobs.save({ ...won[0]!, cursor: 1 }, holder), true);

    const takeover = await other.jobs.claim('successor', at(3), at(4));
    assert.equal(takeover?.id, 'job_claim1', 'after the lease lapses another node takes the job');
    assert.equal(takeover?.cursor, 1, 'and resumes at the committed cursor');
    assert.equal(await storage.jobs.save({ ...won[0]!, cursor: 2 }, holder), false, 'the old holder can no longer write');
  });

  test('parallel creations never exceed the limit of unfinished jobs', async () => {
    // Two SQLite handles in one thread cannot wait for each other's write lock (a busy wait blocks the
    // thread the holder needs); SQLite nodes are separate processes, where they queue. One handle here.
    const second = backend === 'postgres' ? other : storage;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => (i % 2 ? second : storage).jobs.create(job(`job_limit${i}`, { type: 'users_export' }), 2)),
    );
    assert.equal(results.filter(Boolean).length, 2);
  });
});
