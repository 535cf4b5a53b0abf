import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Storage } from '../src/storage/types.js';
import type { RefreshTokenRecord } from '../src/domain/types.js';
import { backend } from './helpers/server.js';
import { testDatabase, type TestDatabase } from './helpers/storage.js';

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
      await storage.putLoginTransaction(tx(`tx-${name}`, expiresAt));
      await storage.insertDeviceCode(`dc-${name}`, device(`SWEP-${name.toUpperCase()}`, expiresAt));
      await storage.insertOpaqueAccessToken(`at-${name}`, { clientId: 'c', userId: 'auth0|sweep', scope: [], expiresAt });
    }
    await storage.sweepExpired(NOW);
    const present = async (name: string) => [
      (await storage.getLoginTransaction(`tx-${name}`)) !== undefined,
      (await storage.getDeviceCode(`dc-${name}`)) !== undefined,
      (await storage.getOpaqueAccessToken(`at-${name}`)) !== undefined,
    ];
    assert.deepEqual(await present('gone'), [false, false, false]);
    assert.deepEqual(await present('edge'), [true, true, true]);
    assert.deepEqual(await present('live'), [true, true, true]);
    assert.equal(await storage.findDeviceCodeByUserCode('SWEP-GONE'), undefined, 'the user code is free again');
    assert.equal(
      await storage.insertDeviceCode('dc-reuse', device('SWEP-GONE', NOW)),
      true,
    );
  });

  test('authorization codes, used or not, stay seven days past expiry for replay detection', async () => {
    const data = { clientId: 'c', userId: 'auth0|sweep', scope: [], authTime: LONG_AGO, redirectUri: 'http://127.0.0.1/cb' };
    await storage.insertAuthorizationCode('code-gone', data, before_(LONG_AGO));
    await storage.insertAuthorizationCode('code-edge', data, LONG_AGO);
    await storage.insertAuthorizationCode('code-used', data, after_(LONG_AGO));
    await storage.claimAuthorizationCode('code-used', LONG_AGO);
    await storage.recordCodeTokens('code-used', { familyId: 'fam-of-code', accessTokenHash: 'at-of-code' });
    await storage.insertAuthorizationCode('code-expired-yesterday', data, ms(NOW, -24 * 3600 * 1000));
    await storage.sweepExpired(NOW);
    assert.equal(await storage.getAuthorizationCode('code-gone'), undefined);
    assert.equal((await storage.getAuthorizationCode('code-edge'))?.expiresAt, LONG_AGO);
    const used = await storage.getAuthorizationCode('code-used');
    assert.deepEqual([used?.consumedAt, used?.familyId, used?.accessTokenHash], [LONG_AGO, 'fam-of-code', 'at-of-code']);
    assert.ok(await storage.getAuthorizationCode('code-expired-yesterday'));
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
    await storage.createSession('s-gone', session(before_(LONG_AGO)));
    await storage.createSession('s-edge', session(LONG_AGO));
    await storage.createSession('s-expired', session(before_(NOW)));
    await storage.createSession('s-ended-long-ago', session(after_(NOW), before_(LONG_AGO)));
    await storage.sweepExpired(NOW);
    assert.equal(await storage.getSession('s-gone'), undefined);
    assert.equal((await storage.getSession('s-edge'))?.expiresAt, LONG_AGO);
    assert.ok(await storage.getSession('s-expired'));
    assert.equal((await storage.getSession('s-ended-long-ago'))?.endedAt, before_(LONG_AGO));
  });

  test('refresh tokens go seven days after they expire or were revoked; non-expiring live ones stay', async () => {
    await storage.insertRefreshToken('rt-exp-gone', refreshToken('fam-1', before_(LONG_AGO)));
    await storage.insertRefreshToken('rt-exp-edge', refreshToken('fam-2', LONG_AGO));
    await storage.insertRefreshToken('rt-forever', refreshToken('fam-3', null));
    await storage.insertRefreshToken('rt-rev-gone', refreshToken('fam-4', null, before_(LONG_AGO)));
    await storage.insertRefreshToken('rt-rev-edge', refreshToken('fam-5', null, LONG_AGO));
    await storage.insertRefreshToken('rt-rotated', { ...refreshToken('fam-6', null), rotatedAt: before_(LONG_AGO) });
    await storage.sweepExpired(NOW);
    assert.equal(await storage.getRefreshToken('rt-exp-gone'), undefined);
    assert.equal((await storage.getRefreshToken('rt-exp-edge'))?.expiresAt, LONG_AGO);
    assert.ok(await storage.getRefreshToken('rt-forever'));
    assert.equal(await storage.getRefreshToken('rt-rev-gone'), undefined);
    assert.equal((await storage.getRefreshToken('rt-rev-edge'))?.revokedAt, LONG_AGO);
    // A rotated, non-expiring token stays: a replay of it must still revoke the family.
    assert.equal((await storage.getRefreshToken('rt-rotated'))?.rotatedAt, before_(LONG_AGO));
  });

  test('a revoked family forgets its mark only when old enough and no token of it remains', async () => {
    // Old mark, every token revoked with it: all gone, and a token of that family id is no longer refused.
    await storage.insertRefreshToken('fam-old-1', refreshToken('fam-old', null));
    await storage.revokeRefreshTokenFamily('fam-old', before_(LONG_AGO));
    // Old mark, but a successor inserted afterwards (revoked by the mark only) survives the sweep: mark kept.
    await storage.insertRefreshToken('fam-kept-1', refreshToken('fam-kept', null));
    await storage.revokeRefreshTokenFamily('fam-kept', before_(LONG_AGO));
    await storage.insertRefreshToken('fam-kept-2', refreshToken('fam-kept', null));
    // A mark exactly at the cut-off, and its token: both kept.
    await storage.insertRefreshToken('fam-edge-1', refreshToken('fam-edge', null));
    await storage.revokeRefreshTokenFamily('fam-edge', LONG_AGO);
    await storage.sweepExpired(NOW);

    assert.equal(await storage.getRefreshToken('fam-old-1'), undefined);
    await storage.insertRefreshToken('fam-old-2', refreshToken('fam-old', null));
    assert.equal((await storage.getRefreshToken('fam-old-2'))?.revokedAt, null);

    assert.equal(await storage.getRefreshToken('fam-kept-1'), undefined);
    assert.equal((await storage.getRefreshToken('fam-kept-2'))?.revokedAt, before_(LONG_AGO));
    await storage.insertRefreshToken('fam-kept-3', refreshToken('fam-kept', null));
    assert.equal((await storage.getRefreshToken('fam-kept-3'))?.revokedAt, before_(LONG_AGO));

    assert.equal((await storage.getRefreshToken('fam-edge-1'))?.revokedAt, LONG_AGO);
    await storage.insertRefreshToken('fam-edge-2', refreshToken('fam-edge', null));
    assert.equal((await storage.getRefreshToken('fam-edge-2'))?.revokedAt, LONG_AGO);
  });

  test('login throttles go when their window started over seven days ago, unless a lock is still in force', async () => {
    const start = async (key: string, windowStartedAt: string, lockedUntil?: string) => {
      await storage.recordLoginFailure(key, windowStartedAt, before_(windowStartedAt));
      if (lockedUntil) await storage.lockLogin(key, lockedUntil);
    };
    await start('th-gone', before_(LONG_AGO));
    await start('th-edge', LONG_AGO);
    await start('th-lock-over', before_(LONG_AGO), before_(NOW));
    await start('th-lock-ends-now', before_(LONG_AGO), NOW);
    await start('th-locked', before_(LONG_AGO), after_(NOW));
    await storage.sweepExpired(NOW);
    assert.equal(await storage.getLoginThrottle('th-gone'), undefined);
    assert.equal((await storage.getLoginThrottle('th-edge'))?.windowStartedAt, LONG_AGO);
    assert.equal(await storage.getLoginThrottle('th-lock-over'), undefined);
    assert.equal((await storage.getLoginThrottle('th-lock-ends-now'))?.lockedUntil, NOW);
    assert.equal((await storage.getLoginThrottle('th-locked'))?.lockedUntil, after_(NOW));
  });

  test('rate-limit windows go when they started over seven days ago', async () => {
    // Two hits each; a window the sweep deleted counts from one again.
    for (const [key, start] of [['rl-gone', before_(LONG_AGO)], ['rl-edge', LONG_AGO], ['rl-live', NOW]] as const) {
      await storage.hitRateLimit(key, start);
      assert.equal(await storage.hitRateLimit(key, start), 2);
    }
    await storage.sweepExpired(NOW);
    assert.equal(await storage.hitRateLimit('rl-gone', before_(LONG_AGO)), 1);
    assert.equal(await storage.hitRateLimit('rl-edge', LONG_AGO), 3);
    assert.equal(await storage.hitRateLimit('rl-live', NOW), 3);
  });

  test('sweeping twice, or with nothing to sweep, changes nothing more', async () => {
    await storage.putLoginTransaction(tx('tx-twice', after_(NOW)));
    await storage.sweepExpired(NOW);
    await storage.sweepExpired(NOW);
    assert.ok(await storage.getLoginTransaction('tx-twice'));
    await storage.sweepExpired(after_(after_(NOW)));
    assert.equal(await storage.getLoginTransaction('tx-twice'), undefined);
  });
});
