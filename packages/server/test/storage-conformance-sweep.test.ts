import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RefreshTokenRecord } from '../src/domain/types.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { type TestDatabase, testDatabase } from './helpers/storage.js';

/**
 * Where `sweepExpired(now)` cuts, pinned for every kind of expiring row. Two cut-offs exist: short-lived
 * rows (login transactions, device codes, opaque tokens) go once they expired strictly before `now`;
 * rows a replay or an audit may still need (codes, sessions, refresh tokens, windows, throttles) go once
 * they expired, ended or started strictly before `now` minus seven days. A row exactly at a cut-off stays.
 */
const NOW = '2026-06-15T12:00:00.000Z';
const ms = (iso: string, delta: number) => new Date(Date.parse(iso) + delta).toISOString();
const LONG_AGO = ms(NOW, -7 * 24 * 3600 * 1000);
const before_ = (iso: string) => ms(iso, -1);
const after_ = (iso: string) => ms(iso, 1);

describe(`storage sweep boundaries (${backend})`, () => {
  let database: TestDatabase;
  let storage: Storage;

  before(async () => {
    database = testDatabase();
    storage = await database.open();
    await storage.migrate();
  });
  after(async () => {
    await storage.close();
    await database.drop();
  });

  const tx = (id: string, expiresAt: string) => ({
    id,
    csrf: 'c',
    request: {
      clientId: 'c',
      redirectUri: 'http://127.0.0.1/cb',
      responseType: 'code',
      responseMode: 'query' as const,
      scope: [],
      prompt: [],
    },
    createdAt: LONG_AGO,
    expiresAt,
  });
  const refreshToken = (familyId: string, expiresAt: string | null, revokedAt: string | null = null): RefreshTokenRecord => ({
    familyId,
    grant: { clientId: 'c', userId: 'auth0|sweep', scope: ['offline_access'], authTime: LONG_AGO },
    familyExpiresAt: null,
    createdAt: ms(LONG_AGO, -1000),
    expiresAt,
    rotatedAt: null,
    revokedAt,
  });

  const device = (userCode: string, expiresAt: string) => ({
    userCode,
    status: 'pending' as const,
    clientId: 'c',
    scope: [],
    expiresAt,
    lastPolledAt: null,
  });

  test('login transactions, device codes and opaque tokens: gone once expired strictly before now', async () => {
    const cases = { gone: before_(NOW), edge: NOW, live: after_(NOW) };
    for (const [name, expiresAt] of Object.entries(cases)) {
      await storage.loginTransactions.put(tx(`tx-${name}`, expiresAt));
      await storage.deviceCodes.insert(`dc-${name}`, device(`SWEP-${name.toUpperCase()}`, expiresAt));
      await storage.accessTokens.insert(`at-${name}`, { clientId: 'c', userId: 'auth0|sweep', scope: [], expiresAt });
    }
    await storage.sweepExpired(NOW);
    const present = async (name: string) => [
      (await storage.loginTransactions.get(`tx-${name}`)) !== undefined,
      (await storage.deviceCodes.get(`dc-${name}`)) !== undefined,
      (await storage.accessTokens.get(`at-${name}`)) !== undefined,
    ];
    assert.deepEqual(await present('gone'), [false, false, false]);
    assert.deepEqual(await present('edge'), [true, true, true]);
    assert.deepEqual(await present('live'), [true, true, true]);
    assert.equal(await storage.deviceCodes.findByUserCode('SWEP-GONE'), undefined, 'the user code is free again');
    assert.equal(await storage.deviceCodes.insert('dc-reuse', device('SWEP-GONE', NOW)), true);
  });

  test('authorization codes, used or not, stay seven days past expiry for replay detection', async () => {
    const data = { clientId: 'c', userId: 'auth0|sweep', scope: [], authTime: LONG_AGO, redirectUri: 'http://127.0.0.1/cb' };
    await storage.codes.insert('code-gone', data, before_(LONG_AGO));
    await storage.codes.insert('code-edge', data, LONG_AGO);
    await storage.codes.insert('code-used', data, after_(LONG_AGO));
    await storage.codes.claim('code-used', LONG_AGO);
    await storage.codes.recordTokens('code-used', { familyId: 'fam-of-code', accessTokenHash: 'at-of-code' });
    await storage.codes.insert('code-expired-yesterday', data, ms(NOW, -24 * 3600 * 1000));
    await storage.sweepExpired(NOW);
    assert.equal(await storage.codes.get('code-gone'), undefined);
    assert.equal((await storage.codes.get('code-edge'))?.expiresAt, LONG_AGO);
    const used = await storage.codes.get('code-used');
    assert.deepEqual([used?.consumedAt, used?.familyId, used?.accessTokenHash], [LONG_AGO, 'fam-of-code', 'at-of-code']);
    assert.ok(await storage.codes.get('code-expired-yesterday'));
  });

  test('sessions go seven days after they expire; ending one does not hasten it', async () => {
    const session = (expiresAt: string, endedAt: string | null = null) => ({
      sid: `sid-${expiresAt}`,
      userId: 'auth0|sweep',
      authTime: LONG_AGO,
      lastSeenAt: LONG_AGO,
      expiresAt,
      endedAt,
    });
    await storage.sessions.create('s-gone', session(before_(LONG_AGO)));
    await storage.sessions.create('s-edge', session(LONG_AGO));
    await storage.sessions.create('s-expired', session(before_(NOW)));
    await storage.sessions.create('s-ended-long-ago', session(after_(NOW), before_(LONG_AGO)));
    await storage.sweepExpired(NOW);
    assert.equal(await storage.sessions.get('s-gone'), undefined);
    assert.equal((await storage.sessions.get('s-edge'))?.expiresAt, LONG_AGO);
    assert.ok(await storage.sessions.get('s-expired'));
    assert.equal((await storage.sessions.get('s-ended-long-ago'))?.endedAt, before_(LONG_AGO));
  });

  test('refresh tokens go seven days after they expire or were revoked; non-expiring live ones stay', async () => {
    await storage.refreshTokens.insert('rt-exp-gone', refreshToken('fam-1', before_(LONG_AGO)));
    await storage.refreshTokens.insert('rt-exp-edge', refreshToken('fam-2', LONG_AGO));
    await storage.refreshTokens.insert('rt-forever', refreshToken('fam-3', null));
    await storage.refreshTokens.insert('rt-rev-gone', refreshToken('fam-4', null, before_(LONG_AGO)));
    await storage.refreshTokens.insert('rt-rev-edge', refreshToken('fam-5', null, LONG_AGO));
    await storage.refreshTokens.insert('rt-rotated', { ...refreshToken('fam-6', null), rotatedAt: before_(LONG_AGO) });
    await storage.sweepExpired(NOW);
    assert.equal(await storage.refreshTokens.get('rt-exp-gone'), undefined);
    assert.equal((await storage.refreshTokens.get('rt-exp-edge'))?.expiresAt, LONG_AGO);
    assert.ok(await storage.refreshTokens.get('rt-forever'));
    assert.equal(await storage.refreshTokens.get('rt-rev-gone'), undefined);
    assert.equal((await storage.refreshTokens.get('rt-rev-edge'))?.revokedAt, LONG_AGO);
    // A rotated, non-expiring token stays: a replay of it must still revoke the family.
    assert.equal((await storage.refreshTokens.get('rt-rotated'))?.rotatedAt, before_(LONG_AGO));
  });

  test('a revoked family forgets its mark only when old enough and no token of it remains', async () => {
    // Old mark, every token revoked with it: all gone, and a token of that family id is no longer refused.
    await storage.refreshTokens.insert('fam-old-1', refreshToken('fam-old', null));
    await storage.refreshTokens.revokeFamily('fam-old', before_(LONG_AGO));
    // Old mark, but a successor inserted afterwards (revoked by the mark only) survives the sweep: mark kept.
    await storage.refreshTokens.insert('fam-kept-1', refreshToken('fam-kept', null));
    await storage.refreshTokens.revokeFamily('fam-kept', before_(LONG_AGO));
    await storage.refreshTokens.insert('fam-kept-2', refreshToken('fam-kept', null));
    // A mark exactly at the cut-off, and its token: both kept.
    await storage.refreshTokens.insert('fam-edge-1', refreshToken('fam-edge', null));
    await storage.refreshTokens.revokeFamily('fam-edge', LONG_AGO);
    await storage.sweepExpired(NOW);

    assert.equal(await storage.refreshTokens.get('fam-old-1'), undefined);
    await storage.refreshTokens.insert('fam-old-2', refreshToken('fam-old', null));
    assert.equal((await storage.refreshTokens.get('fam-old-2'))?.revokedAt, null);

    assert.equal(await storage.refreshTokens.get('fam-kept-1'), undefined);
    assert.equal((await storage.refreshTokens.get('fam-kept-2'))?.revokedAt, before_(LONG_AGO));
    await storage.refreshTokens.insert('fam-kept-3', refreshToken('fam-kept', null));
    assert.equal((await storage.refreshTokens.get('fam-kept-3'))?.revokedAt, before_(LONG_AGO));

    assert.equal((await storage.refreshTokens.get('fam-edge-1'))?.revokedAt, LONG_AGO);
    await storage.refreshTokens.insert('fam-edge-2', refreshToken('fam-edge', null));
    assert.equal((await storage.refreshTokens.get('fam-edge-2'))?.revokedAt, LONG_AGO);
  });

  test('login throttles go when their window started over seven days ago, unless a lock is still in force', async () => {
    const start = async (key: string, windowStartedAt: string, lockedUntil?: string) => {
      await storage.throttles.recordFailure(key, windowStartedAt, before_(windowStartedAt));
      if (lockedUntil) await storage.throttles.lock(key, lockedUntil);
    };
    await start('th-gone', before_(LONG_AGO));
    await start('th-edge', LONG_AGO);
    await start('th-lock-over', before_(LONG_AGO), before_(NOW));
    await start('th-lock-ends-now', before_(LONG_AGO), NOW);
    await start('th-locked', before_(LONG_AGO), after_(NOW));
    await storage.sweepExpired(NOW);
    assert.equal(await storage.throttles.get('th-gone'), undefined);
    assert.equal((await storage.throttles.get('th-edge'))?.windowStartedAt, LONG_AGO);
    assert.equal(await storage.throttles.get('th-lock-over'), undefined);
    assert.equal((await storage.throttles.get('th-lock-ends-now'))?.lockedUntil, NOW);
    assert.equal((await storage.throttles.get('th-locked'))?.lockedUntil, after_(NOW));
  });

  test('rate-limit windows go when they started over seven days ago', async () => {
    // Two hits each; a window the sweep deleted counts from one again.
    for (const [key, start] of [
      ['rl-gone', before_(LONG_AGO)],
      ['rl-edge', LONG_AGO],
      ['rl-live', NOW],
    ] as const) {
      await storage.rateLimits.hit(key, start);
      assert.equal(await storage.rateLimits.hit(key, start), 2);
    }
    await storage.sweepExpired(NOW);
    assert.equal(await storage.rateLimits.hit('rl-gone', before_(LONG_AGO)), 1);
    assert.equal(await storage.rateLimits.hit('rl-edge', LONG_AGO), 3);
    assert.equal(await storage.rateLimits.hit('rl-live', NOW), 3);
  });

  test('sweeping twice, or with nothing to sweep, changes nothing more', async () => {
    await storage.loginTransactions.put(tx('tx-twice', after_(NOW)));
    await storage.sweepExpired(NOW);
    await storage.sweepExpired(NOW);
    assert.ok(await storage.loginTransactions.get('tx-twice'));
    await storage.sweepExpired(after_(after_(NOW)));
    assert.equal(await storage.loginTransactions.get('tx-twice'), undefined);
  });
});
