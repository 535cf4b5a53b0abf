import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { OutboxMailRecord } from '../src/mail/types.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { twoNodesOnOneDatabase } from './helpers/storage.js';

/**
 * The outbox's claims and bookkeeping, on two storages over one database (as two nodes have): one
 * claim wins a mail, a lapsed lease is taken over and counts an attempt, only the holder records the
 * outcome, and the prune deletes sent mails past retention, keeps failed ones longer and fails
 * pending ones that were never delivered in time.
 */
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const LIMITS = { since: at(0), perRecipient: 100, maxPending: 1000 };

const mail = (id: string, overrides: Partial<OutboxMailRecord> = {}): OutboxMailRecord => ({
  id,
  template: 'reset_email',
  status: 'pending',
  recipientKey: `key-${id}`,
  sealed: 'v1.sealed',
  attempts: 0,
  nextAttemptAt: at(0),
  owner: null,
  leaseUntil: null,
  lastError: null,
  createdAt: at(0),
  sentAt: null,
  ...overrides,
});

describe(`mail outbox claims and pruning (${backend})`, () => {
  const nodes = twoNodesOnOneDatabase();
  let storage: Storage;
  let other: Storage;
  before(() => {
    ({ storage, other } = nodes);
  });

  test('one of two racing claims wins each mail; a mail not yet due is not claimed', async () => {
    for (let i = 0; i < 10; i++) assert.equal(await storage.mailOutbox.insert(mail(`race${i}`), LIMITS), true);
    assert.equal(await storage.mailOutbox.insert(mail('later', { nextAttemptAt: at(30) }), LIMITS), true);
    const won: string[] = [];
    const claimUntilEmpty = async (s: Storage, owner: string) => {
      for (;;) {
        const claimed = await s.mailOutbox.claim(owner, at(1), at(5));
        if (!claimed) return;
        assert.equal(claimed.owner, owner);
        assert.equal(claimed.attempts, 1);
        won.push(claimed.id);
      }
    };
    await Promise.all([claimUntilEmpty(storage, 'node-a'), claimUntilEmpty(other, 'node-b')]);
    assert.deepEqual(won.sort(), Array.from({ length: 10 }, (_, i) => `race${i}`).sort());
  });

  test('a lapsed lease is taken over; only the holder settles', async () => {
    const taken = await other.mailOutbox.claim('node-b', at(6), at(10));
    assert.ok(taken);
    assert.ok(taken.id.startsWith('race'), 'the leases of minute 5 ran out at minute 6');
    assert.equal(taken.attempts, 2);
    assert.equal(await storage.mailOutbox.settle(taken.id, 'node-a', { status: 'sent', at: at(7) }), false, 'the old holder lost it');
    assert.equal(await other.mailOutbox.settle(taken.id, 'node-b', { status: 'sent', at: at(7) }), true);
    assert.equal(await other.mailOutbox.settle(taken.id, 'node-b', { status: 'sent', at: at(7) }), false, 'settled once');
    const sent = await storage.mailOutbox.get(taken.id);
    assert.deepEqual([sent?.status, sent?.sentAt, sent?.owner], ['sent', at(7), null]);
  });

  test('a retry is scheduled, and a failure kept with its error; only a failed mail is requeued', async () => {
    const a = await storage.mailOutbox.claim('node-a', at(11), at(15));
    assert.ok(a);
    assert.equal(
      await storage.mailOutbox.settle(a.id, 'node-a', { status: 'pending', nextAttemptAt: at(20), error: 'ECONNREFUSED' }),
      true,
    );
    assert.notEqual((await storage.mailOutbox.claim('node-a', at(12), at(15)))?.id, a.id, 'not due before minute 20');
    const again = await storage.mailOutbox.get(a.id);
    assert.deepEqual([again?.status, again?.lastError, again?.nextAttemptAt], ['pending', 'ECONNREFUSED', at(20)]);

    const b = await other.mailOutbox.claim('node-b', at(21), at(25));
    assert.ok(b);
    assert.equal(await other.mailOutbox.settle(b.id, 'node-b', { status: 'failed', error: 'x'.repeat(5000) }), true);
    const failed = await other.mailOutbox.get(b.id);
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.lastError?.length, 1000, 'a server’s error is kept, bounded');
    assert.equal(await storage.mailOutbox.requeue(a.id, at(22)), false, 'a pending mail is not requeued');
    assert.equal(await storage.mailOutbox.requeue(b.id, at(22)), true);
    assert.deepEqual([(await storage.mailOutbox.get(b.id))?.status, (await storage.mailOutbox.get(b.id))?.attempts], ['pending', 0]);
  });

  test('the per-recipient and pending backstops refuse without writing', async () => {
    const limits = { since: at(0), perRecipient: 2, maxPending: 1000 };
    assert.equal(await storage.mailOutbox.insert(mail('r1', { recipientKey: 'same' }), limits), true);
    assert.equal(await storage.mailOutbox.insert(mail('r2', { recipientKey: 'same' }), limits), true);
    assert.equal(await storage.mailOutbox.insert(mail('r3', { recipientKey: 'same' }), limits), 'recipient_limit');
    assert.equal(await storage.mailOutbox.get('r3'), undefined);
    const pending = await storage.mailOutbox.countPending();
    assert.equal(await storage.mailOutbox.insert(mail('full'), { ...LIMITS, maxPending: pending }), 'outbox_full');
    assert.equal(await storage.mailOutbox.countPending(), pending);
  });

  test('the prune: sent mails past retention go, failed ones stay longer, stale pending ones fail', async () => {
    await storage.mailOutbox.insert(mail('old-sent', { status: 'sent', sentAt: at(1), createdAt: at(1) }), LIMITS);
    await storage.mailOutbox.insert(mail('new-sent', { status: 'sent', sentAt: at(50), createdAt: at(50) }), LIMITS);
    await storage.mailOutbox.insert(mail('old-failed', { status: 'failed', createdAt: at(1) }), LIMITS);
    await storage.mailOutbox.insert(mail('stale', { createdAt: at(2) }), LIMITS);
    await storage.mailOutbox.insert(mail('fresh', { createdAt: at(55) }), LIMITS);
    const deleted = await storage.mailOutbox.prune({ now: at(60), sentBefore: at(40), failedBefore: at(0), pendingBefore: at(3) });
    assert.ok(deleted >= 1);
    assert.equal(await storage.mailOutbox.get('old-sent'), undefined);
    assert.equal((await storage.mailOutbox.get('new-sent'))?.status, 'sent');
    assert.equal((await storage.mailOutbox.get('old-failed'))?.status, 'failed');
    const stale = await storage.mailOutbox.get('stale');
    assert.equal(stale?.status, 'failed');
    assert.match(String(stale?.lastError), /expired/);
    assert.equal((await storage.mailOutbox.get('fresh'))?.status, 'pending');
  });
});
