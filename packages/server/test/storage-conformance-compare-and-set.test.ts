import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Client, DeviceCodeRecord, RefreshTokenRecord, TenantSettings, User } from '../src/domain/types.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { twoNodesOnOneDatabase } from './helpers/storage.js';

/**
 * The compare-and-set methods the security rests on, raced for real: many calls in flight at once on
 * one storage, and on two storages (two pools or two SQLite handles on one file, as two nodes or the
 * CLI would have). Each must let exactly one caller win and leave the stored row matching the winner.
 */
const N = 20;
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const winners = (results: boolean[]) => results.flatMap((won, i) => (won ? [i] : []));

describe(`storage compare-and-set under parallel calls (${backend})`, () => {
  const nodes = twoNodesOnOneDatabase();
  let storage: Storage;
  let other: Storage;
  before(() => {
    ({ storage, other } = nodes);
  });

  /** Alternates the calls between the two storages, so both kinds of race happen in one run. */
  const on = (i: number) => (i % 2 === 0 ? storage : other);

  const codeData = { clientId: 'c', userId: 'auth0|u', scope: ['openid'], authTime: at(0), redirectUri: 'http://127.0.0.1/cb' };

  test('claimAuthorizationCode: exactly one of N parallel claims wins, on one storage and across two', async () => {
    await storage.codes.insert('code-one', codeData, at(10));
    const local = await Promise.all(Array.from({ length: N }, (_, i) => storage.codes.claim('code-one', at(1) + i)));
    assert.equal(winners(local).length, 1);
    assert.equal((await storage.codes.get('code-one'))?.consumedAt, at(1) + winners(local)[0]);

    await storage.codes.insert('code-two', codeData, at(10));
    const shared = await Promise.all(Array.from({ length: N }, (_, i) => on(i).codes.claim('code-two', `${at(2)}#${i}`)));
    assert.equal(winners(shared).length, 1);
    assert.equal((await other.codes.get('code-two'))?.consumedAt, `${at(2)}#${winners(shared)[0]}`);
    assert.equal(await storage.codes.claim('code-absent', at(2)), false);
  });

  const refreshToken = (familyId: string): RefreshTokenRecord => ({
    familyId,
    grant: { clientId: 'c', userId: 'auth0|u', scope: ['offline_access'], authTime: at(0) },
    familyExpiresAt: null,
    createdAt: at(0),
    expiresAt: null,
    rotatedAt: null,
    revokedAt: null,
  });

  test('markRefreshTokenRotated: exactly one of N parallel rotations wins; a revoked token never rotates', async () => {
    await storage.refreshTokens.insert('rt-race', refreshToken('fam-race'));
    const results = await Promise.all(Array.from({ length: N }, (_, i) => on(i).refreshTokens.markRotated('rt-race', `${at(3)}#${i}`)));
    assert.equal(winners(results).length, 1);
    assert.equal((await storage.refreshTokens.get('rt-race'))?.rotatedAt, `${at(3)}#${winners(results)[0]}`);

    await storage.refreshTokens.insert('rt-revoked', refreshToken('fam-revoked'));
    await storage.refreshTokens.revokeFamily('fam-revoked', at(4));
    const refused = await Promise.all(Array.from({ length: 4 }, (_, i) => on(i).refreshTokens.markRotated('rt-revoked', at(5))));
    assert.deepEqual(refused, [false, false, false, false]);
    assert.equal((await storage.refreshTokens.get('rt-revoked'))?.rotatedAt, null);
  });

  const deviceCode = (userCode: string, clientId = 'device-client'): DeviceCodeRecord => ({
    userCode,
    status: 'pending',
    clientId,
    scope: ['openid'],
    expiresAt: at(30),
    lastPolledAt: null,
  });

  test('decideDeviceCode: approvals racing denials, exactly one wins and the stored status is its decision', async () => {
    for (let round = 0; round < 3; round++) {
      const hash = `dc-decide-${round}`;
      assert.equal(await storage.deviceCodes.insert(hash, deviceCode(`DECI-DE${round}0`)), true);
      const decisions = Array.from({ length: N }, (_, i): 'approved' | 'denied' => ((i + round) % 2 === 0 ? 'approved' : 'denied'));
      const approval = (i: number) => ({ userId: `auth0|approver-${i}`, sid: `sid-${i}`, authTime: at(6) });
      const results = await Promise.all(
        decisions.map((decision, i) => on(i).deviceCodes.decide(hash, decision, decision === 'approved' ? approval(i) : undefined)),
      );
      assert.equal(winners(results).length, 1);
      const won = winners(results)[0]!;
      const stored = await storage.deviceCodes.get(hash);
      assert.equal(stored?.status, decisions[won]);
      assert.deepEqual(stored?.approval, decisions[won] === 'approved' ? approval(won) : undefined);
      // Decided is final: neither decision moves it again.
      assert.equal(await storage.deviceCodes.decide(hash, 'approved', approval(99)), false);
      assert.equal(await storage.deviceCodes.decide(hash, 'denied'), false);
      assert.equal((await other.deviceCodes.get(hash))?.status, decisions[won]);
    }
    assert.equal(await storage.deviceCodes.decide('dc-absent', 'approved'), false);
  });

  test('consumeDeviceCode: only an approved code is consumed, by exactly one of N parallel polls', async () => {
    await storage.deviceCodes.insert('dc-consume', deviceCode('CONS-UME0'));
    assert.equal(await storage.deviceCodes.consume('dc-consume'), false, 'pending: nothing to consume');
    assert.equal(await storage.deviceCodes.decide('dc-consume', 'approved', { userId: 'auth0|u', sid: 's', authTime: at(0) }), true);
    const results = await Promise.all(Array.from({ length: N }, (_, i) => on(i).deviceCodes.consume('dc-consume')));
    assert.equal(winners(results).length, 1);
    assert.equal((await storage.deviceCodes.get('dc-consume'))?.status, 'consumed');

    await storage.deviceCodes.insert('dc-denied', deviceCode('DENI-ED00'));
    await storage.deviceCodes.decide('dc-denied', 'denied');
    assert.equal(await storage.deviceCodes.consume('dc-denied'), false);
    assert.equal((await storage.deviceCodes.get('dc-denied'))?.status, 'denied');
  });

  test('recordDevicePoll: parallel polls see each other, so only the first is told there was no poll before', async () => {
    await storage.deviceCodes.insert('dc-poll', deviceCode('POLL-RACE'));
    const polls = Array.from({ length: N }, (_, i) => `${at(7)}#${String(i).padStart(2, '0')}`);
    const previous = await Promise.all(polls.map((now, i) => on(i).deviceCodes.recordPoll('dc-poll', now)));
    // Serialised, the answers chain: one null, then every other poll's time except the last one's.
    assert.equal(previous.filter((p) => p === null).length, 1, `previous polls: ${JSON.stringify(previous)}`);
    const last = (await storage.deviceCodes.get('dc-poll'))?.lastPolledAt;
    assert.deepEqual([...previous.filter((p) => p !== null), last].sort(), [...polls].sort());
  });

  test('insertDeviceCode: one user code, one request, however many race for it', async () => {
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => on(i).deviceCodes.insert(`dc-dup-${i}`, deviceCode('SAME-CODE', `client-${i}`))),
    );
    assert.equal(winners(results).length, 1);
    const won = winners(results)[0]!;
    const found = await storage.deviceCodes.findByUserCode('SAME-CODE');
    assert.equal(found?.deviceCodeHash, `dc-dup-${won}`);
    assert.equal(found?.record.clientId, `client-${won}`);
    const losers = await Promise.all(results.map((_, i) => storage.deviceCodes.get(`dc-dup-${i}`)));
    assert.equal(losers.filter((r) => r !== undefined).length, 1);
  });

  const client = (id: string): Client => ({
    client_id: id,
    name: id,
    description: '',
    app_type: 'regular_web',
    callbacks: [],
    allowed_logout_urls: [],
    web_origins: [],
    allowed_origins: [],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_post',
    is_first_party: false,
    oidc_conformant: true,
    jwt_configuration: { lifetime_in_seconds: 36000, alg: 'RS256' },
    refresh_token: {
      rotation_type: 'rotating',
      expiration_type: 'expiring',
      leeway: 0,
      token_lifetime: 1,
      idle_token_lifetime: 1,
      infinite_token_lifetime: false,
      infinite_idle_token_lifetime: false,
    },
    registration_source: 'dynamic_registration',
    client_metadata: {},
  });

  test('insertClient at the registration cap: parallel registrations fill exactly the room left', async () => {
    const before = await storage.clients.countRegistered();
    const cap = { maxRegistered: before + 8 };
    for (let i = 0; i < 3; i++)
      assert.equal(await storage.clients.insert({ client: client(`dyn-pre-${i}`), secretDigest: 'd' }, cap), true);
    // A client the Management API made does not count, even past the cap.
    assert.equal(
      await storage.clients.insert(
        { client: { ...client('managed'), registration_source: 'management_api' }, secretDigest: 'd' },
        { maxRegistered: 0 },
      ),
      true,
    );
    assert.equal(await storage.clients.countRegistered(), before + 3);

    // On one storage only: two SQLite handles cannot interleave open transactions in one process
    // (better-sqlite3 would block the event loop on the other handle's write lock).
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        storage.clients.insert({ client: client(`dyn-race-${String(i).padStart(2, '0')}`), secretDigest: 'd' }, cap),
      ),
    );
    assert.equal(winners(results).length, 5);
    assert.equal(await storage.clients.countRegistered(), before + 8);
    const stored = await Promise.all(results.map((_, i) => storage.clients.get(`dyn-race-${String(i).padStart(2, '0')}`)));
    assert.deepEqual(
      stored.map((r) => r !== undefined),
      results,
      'a refused registration leaves no row behind',
    );
    // Deleting one frees one place.
    assert.equal(await storage.clients.delete('dyn-pre-0'), true);
    assert.equal(await storage.clients.countRegistered(), before + 7);
    assert.equal(await storage.clients.insert({ client: client('dyn-after'), secretDigest: 'd' }, { maxRegistered: before + 8 }), true);
    assert.equal(await storage.clients.insert({ client: client('dyn-over'), secretDigest: 'd' }, { maxRegistered: before + 8 }), false);
    assert.equal(await storage.clients.get('dyn-over'), undefined);
  });

  test('insertClient at the cap across two storages (PostgreSQL: two pools)', { skip: backend !== 'postgres' }, async () => {
    const start = await storage.clients.countRegistered();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        on(i).clients.insert({ client: client(`dyn-two-${i}`), secretDigest: 'd' }, { maxRegistered: start + 4 }),
      ),
    );
    assert.equal(winners(results).length, 4);
    assert.equal(await other.clients.countRegistered(), start + 4);
  });

  test('recordLoginFailure: N parallel failures from two storages count to exactly N', async () => {
    const key = 'ip:203.0.113.9';
    const counts = await Promise.all(Array.from({ length: N }, (_, i) => on(i).throttles.recordFailure(key, at(0), at(-15))));
    assert.deepEqual(
      counts.map((c) => c.failures).sort((a, b) => a - b),
      Array.from({ length: N }, (_, i) => i + 1),
    );
    assert.deepEqual(await storage.throttles.get(key), { failures: N, windowStartedAt: at(0), lockedUntil: null });
    await Promise.all(Array.from({ length: 5 }, (_, i) => on(i).throttles.forgiveFailure(key)));
    assert.equal((await storage.throttles.get(key))?.failures, N - 5);
  });

  test('hitRateLimit: parallel hits count exactly; a newer window restarts at one; a lagging clock joins the current one', async () => {
    const hits = await Promise.all(Array.from({ length: N }, (_, i) => on(i).rateLimits.hit('rl:race', at(0))));
    assert.deepEqual(
      hits.sort((a, b) => a - b),
      Array.from({ length: N }, (_, i) => i + 1),
    );
    const next = await Promise.all(Array.from({ length: 5 }, (_, i) => on(i).rateLimits.hit('rl:race', at(1))));
    assert.deepEqual(
      next.sort((a, b) => a - b),
      [1, 2, 3, 4, 5],
    );
    assert.equal(await storage.rateLimits.hit('rl:race', at(0)), 6, 'an older window start counts in the current window');
    assert.equal(await storage.rateLimits.hit('rl:other', at(0)), 1, 'keys are apart');
  });

  const user = (email: string): User => ({
    user_id: 'auth0|cas',
    email,
    email_verified: false,
    identities: [],
    app_metadata: {},
    user_metadata: {},
    created_at: at(0),
    updated_at: at(0),
    logins_count: 0,
    blocked: false,
  });

  test('parallel updates of one user leave its columns agreeing with its document', async () => {
    const id = 'auth0|columns';
    const base = { ...user('columns-0@example.com'), user_id: id };
    assert.equal(await storage.users.insert({ user: base, connection: 'db', passwordHash: null }), true);
    // Half change the email, half only count a login: an update writes the columns that changed, so a
    // writer that read the row before another's commit must not keep a stale email column.
    const writing = (i: number) => (backend === 'postgres' ? on(i) : storage);
    for (let round = 1; round <= 10; round++) {
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          writing(i).users.update({
            user: i % 2 === 0 ? { ...base, email: `columns-${round}-${i}@example.com` } : { ...base, logins_count: i },
            connection: 'db',
            passwordHash: null,
          }),
        ),
      );
      const stored = await storage.users.get(id);
      assert.ok(stored);
      const byEmail = await storage.users.findByEmail('db', stored.user.email!);
      assert.equal(byEmail?.user.user_id, id, `round ${round}: the email column holds the document's email ${stored.user.email}`);
    }
  });

  test('updateUser with ifPasswordHash: one of N parallel writers wins, the others get false', async () => {
    assert.equal(await storage.users.insert({ user: user('cas@example.com'), connection: 'db', passwordHash: 'hash-0' }), true);
    // A user's row and its search terms are written in one transaction: on SQLite a second handle in
    // this process would wait for the write lock synchronously, blocking the event loop that holds it.
    const writing = (i: number) => (backend === 'postgres' ? on(i) : storage);
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        writing(i).users.update(
          { user: { ...user('cas@example.com'), logins_count: i }, connection: 'db', passwordHash: `hash-${i + 1}` },
          { ifPasswordHash: 'hash-0' },
        ),
      ),
    );
    assert.ok(
      results.every((r) => r === true || r === false),
      `only booleans: ${JSON.stringify(results)}`,
    );
    const won = winners(results as boolean[]);
    assert.equal(won.length, 1);
    const stored = await storage.users.get('auth0|cas');
    assert.equal(stored?.passwordHash, `hash-${won[0]! + 1}`);
    assert.equal(stored?.user.logins_count, won[0]);

    // null means "while there is no password".
    assert.equal(
      await storage.users.update({ user: user('cas@example.com'), connection: 'db', passwordHash: 'x' }, { ifPasswordHash: null }),
      false,
    );
    await storage.users.update({ user: user('cas@example.com'), connection: 'db', passwordHash: null });
    assert.equal(
      await storage.users.update({ user: user('cas@example.com'), connection: 'db', passwordHash: 'set' }, { ifPasswordHash: null }),
      true,
    );
    assert.equal((await storage.users.get('auth0|cas'))?.passwordHash, 'set');
    // A taken email is still a conflict, whatever the hash.
    await storage.users.insert({ user: { ...user('taken@example.com'), user_id: 'auth0|taken' }, connection: 'db', passwordHash: null });
    assert.equal(
      await storage.users.update({ user: user('TAKEN@example.com'), connection: 'db', passwordHash: 'set' }, { ifPasswordHash: 'set' }),
      'conflict',
    );
  });

  test('deleteConsent: of N parallel deletes of one consent, exactly one gets it back', async () => {
    await storage.consents.put({ userId: 'auth0|u', clientId: 'c', audience: 'https://api/', scope: ['read'], updatedAt: at(0) });
    const id = (await storage.consents.get('auth0|u', 'c', 'https://api/'))!.id;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => on(i).consents.delete(id)));
    assert.equal(results.filter((r) => r !== undefined).length, 1);
    assert.equal(await storage.consents.get('auth0|u', 'c', 'https://api/'), undefined);
  });

  test('rotateSigningKey: parallel rotations leave exactly one current key', async () => {
    const key = (kid: string) => ({
      kid,
      alg: 'RS256' as const,
      publicJwk: { kty: 'RSA', n: kid, e: 'AQAB' },
      privateKeyEncrypted: `sealed-${kid}`,
      createdAt: at(8),
      retiredAt: null,
      publishUntil: null,
    });
    await storage.signingKeys.rotate(key('rot-0'), at(8));
    // On SQLite one handle only: a second handle in the same process would block the event loop on the write lock.
    const rotating = (i: number) => (backend === 'postgres' ? on(i) : storage);
    await Promise.all(Array.from({ length: 6 }, (_, i) => rotating(i).signingKeys.rotate(key(`rot-${i + 1}`), at(9))));
    const keys = await storage.signingKeys.list();
    assert.equal(keys.length, 7);
    assert.deepEqual(keys.filter((k) => k.retiredAt === null).length, 1, JSON.stringify(keys.map((k) => [k.kid, k.retiredAt])));
  });

  test('createTenantSettings: one of N parallel bootstraps wins and its settings are the ones stored', async () => {
    const settings = (i: number): TenantSettings => ({
      friendly_name: `tenant-${i}`,
      allowed_logout_urls: [],
      default_audience: '',
      default_directory: '',
      session_lifetime: 1,
      idle_session_lifetime: 1,
      flags: {},
    });
    const results = await Promise.all(Array.from({ length: N }, (_, i) => on(i).tenant.create(settings(i))));
    const won = winners(results);
    assert.equal(won.length, 1);
    assert.equal((await other.tenant.get())?.friendly_name, `tenant-${won[0]}`);
  });
});
