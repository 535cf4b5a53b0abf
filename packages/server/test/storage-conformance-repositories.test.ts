import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Connection, DeviceCodeRecord, RefreshTokenRecord, TenantSettings, User } from '../src/domain/types.js';
import type { KyselyStorage } from '../src/storage/kysely/index.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { type TestDatabase, testDatabase } from './helpers/storage.js';

/**
 * Round trips of the stores storage-conformance.test.ts leaves out: what goes in comes out, updates
 * and deletes touch exactly their rows, lists page and filter, and uniqueness is answered as the
 * interface says.
 */
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const offset = (o: number, limit: number) => ({ kind: 'offset' as const, offset: o, limit, includeTotal: true });

describe(`storage repositories round-trip (${backend})`, () => {
  let database: TestDatabase;
  let storage: Storage;
  const changes: string[] = [];

  before(async () => {
    database = testDatabase();
    storage = await database.open();
    await storage.migrate();
    storage.changes.subscribe((kind, key) => changes.push(`${kind}:${key}`));
  });
  after(async () => {
    await storage.close();
    await database.drop();
  });

  const connection = (id: string, name: string, strategy: Connection['strategy'] = 'auth0'): Connection => ({
    id,
    name,
    strategy,
    options: { n: id },
    enabled_clients: ['a'],
    is_domain_connection: false,
    realms: [name],
  });

  test('connections: get by id and name, update, delete, list with filters and paging', async () => {
    const oauth2 = await storage.connections.list({ strategy: 'oauth2' }, offset(0, 10));
    assert.equal(oauth2.total, 0);
    for (let i = 0; i < 5; i++) {
      assert.equal(await storage.connections.insert(connection(`con_${i}`, `conn-${i}`, i % 2 ? 'oauth2' : 'auth0')), true);
    }
    assert.equal(await storage.connections.insert(connection('con_dup', 'conn-0')), false, 'name taken');
    assert.equal(await storage.connections.get('con_dup'), undefined);
    assert.deepEqual(await storage.connections.get('con_2'), connection('con_2', 'conn-2'));
    assert.deepEqual(await storage.connections.getByName('conn-3'), connection('con_3', 'conn-3', 'oauth2'));

    const byStrategy = await storage.connections.list({ strategy: 'oauth2' }, offset(0, 10));
    assert.deepEqual([byStrategy.items.map((c) => c.id), byStrategy.total], [['con_1', 'con_3'], 2]);
    const byName = await storage.connections.list({ name: 'conn-4' }, offset(0, 10));
    assert.deepEqual(
      byName.items.map((c) => c.id),
      ['con_4'],
    );
    const second = await storage.connections.list({}, offset(2, 2));
    assert.deepEqual([second.items.map((c) => c.id), second.total], [['con_2', 'con_3'], 5]);
    const seen: string[] = [];
    let from: string | undefined;
    do {
      const page = await storage.connections.list({ strategy: 'auth0' }, { kind: 'checkpoint', from, take: 2 });
      seen.push(...page.items.map((c) => c.id));
      from = page.next;
    } while (from);
    assert.deepEqual(seen, ['con_0', 'con_2', 'con_4']);

    assert.equal(await storage.connections.update({ ...connection('con_2', 'conn-2'), display_name: 'Two' }), true);
    assert.equal((await storage.connections.getByName('conn-2'))?.display_name, 'Two');
    assert.equal(await storage.connections.update(connection('con_absent', 'absent')), false);
    assert.ok(changes.includes('connection:conn-2'));
    assert.equal(await storage.connections.delete('con_2'), true);
    assert.equal(await storage.connections.delete('con_2'), false);
    assert.equal(await storage.connections.getByName('conn-2'), undefined);
    assert.equal(await storage.connections.insert(connection('con_2b', 'conn-2')), true, 'a deleted name is free again');
  });

  const user = (id: string, email: string | undefined, createdAt: string, username?: string): User => ({
    user_id: id,
    ...(email ? { email } : {}),
    email_verified: false,
    ...(username ? { username } : {}),
    identities: [{ connection: 'db', user_id: id.split('|')[1] ?? id, provider: 'auth0', isSocial: false }],
    app_metadata: { roles: ['r'] },
    user_metadata: { theme: 'dark' },
    created_at: createdAt,
    updated_at: createdAt,
    logins_count: 0,
    blocked: false,
  });

  test('users: per-connection lookups, email across connections oldest first, paging, update and delete', async () => {
    assert.equal(
      await storage.users.insert({ user: user('auth0|u2', 'Same@Example.com', at(2), 'sam'), connection: 'db', passwordHash: 'h2' }),
      true,
    );
    assert.equal(
      await storage.users.insert({ user: user('oauth2|u1', 'same@example.com', at(1)), connection: 'github', passwordHash: null }),
      true,
    );
    assert.equal(
      await storage.users.insert({ user: user('auth0|u3', undefined, at(3), 'phoneless'), connection: 'db', passwordHash: 'h3' }),
      true,
    );
    assert.equal(
      await storage.users.insert({ user: user('auth0|u4', 'other@example.com', at(4)), connection: 'db', passwordHash: 'h4' }),
      true,
    );
    assert.equal(
      await storage.users.insert({ user: user('auth0|u2', 'new@example.com', at(5)), connection: 'db', passwordHash: 'h' }),
      false,
      'id taken',
    );

    assert.deepEqual(await storage.users.get('auth0|u2'), {
      user: user('auth0|u2', 'Same@Example.com', at(2), 'sam'),
      connection: 'db',
      passwordHash: 'h2',
    });
    assert.equal((await storage.users.findByEmail('github', 'SAME@example.com'))?.user.user_id, 'oauth2|u1');
    assert.equal((await storage.users.findByEmail('db', 'same@EXAMPLE.com'))?.user.user_id, 'auth0|u2');
    assert.equal(await storage.users.findByEmail('other-db', 'same@example.com'), undefined);
    assert.equal(await storage.users.findByUsername('github', 'sam'), undefined, 'usernames are per connection');
    assert.equal((await storage.users.findByUsername('db', 'PHONELESS'))?.passwordHash, 'h3');
    assert.deepEqual(
      (await storage.users.listByEmail('SAME@example.COM')).map((u) => u.user_id),
      ['oauth2|u1', 'auth0|u2'],
    );
    assert.deepEqual(await storage.users.listByEmail('nobody@example.com'), []);

    const page = await storage.users.list(offset(1, 2));
    assert.deepEqual([page.items.map((u) => u.user_id), page.total], [['auth0|u2', 'auth0|u3'], 4]);
    const seen: string[] = [];
    let from: string | undefined;
    do {
      const next = await storage.users.list({ kind: 'checkpoint', from, take: 3 });
      seen.push(...next.items.map((u) => u.user_id));
      from = next.next;
    } while (from);
    assert.deepEqual(seen, ['oauth2|u1', 'auth0|u2', 'auth0|u3', 'auth0|u4']);

    // Changing the email moves the lookups; the old address is free again.
    const moved = { ...user('auth0|u2', 'moved@example.com', at(2), 'sam'), logins_count: 3 };
    assert.equal(await storage.users.update({ user: moved, connection: 'db', passwordHash: 'h2b' }), true);
    assert.equal(await storage.users.findByEmail('db', 'same@example.com'), undefined);
    assert.deepEqual(await storage.users.findByEmail('db', 'Moved@example.com'), { user: moved, connection: 'db', passwordHash: 'h2b' });
    assert.equal(
      await storage.users.update({ user: user('auth0|u3', 'x@example.com', at(3), 'SAM'), connection: 'db', passwordHash: 'h3' }),
      'conflict',
    );
    assert.equal((await storage.users.get('auth0|u3'))?.user.email, undefined, 'a conflicting update changes nothing');
    assert.equal(
      await storage.users.update({ user: user('auth0|u3', 'x@example.com', at(3), 'SAM'), connection: 'github', passwordHash: 'h3' }),
      true,
      'free on another connection',
    );

    await storage.permissions.add('auth0|u4', [{ audience: 'https://a/', permission: 'read' }], at(0));
    assert.equal(await storage.users.delete('auth0|u4'), true);
    assert.equal(await storage.users.get('auth0|u4'), undefined);
    // One aggregate per repository: the domain's deleteUser removes the permissions in the same transaction.
    assert.deepEqual(await storage.permissions.list('auth0|u4'), [{ audience: 'https://a/', permission: 'read' }]);
    await storage.permissions.removeAllOf('auth0|u4');
    assert.deepEqual(await storage.permissions.list('auth0|u4'), []);
    assert.equal(await storage.users.delete('auth0|u4'), false);
  });

  test('tenant settings: absent at first, created once, replaced by put', async () => {
    const settings: TenantSettings = {
      friendly_name: 'first',
      support_email: 'help@example.com',
      allowed_logout_urls: ['https://app.example/'],
      default_audience: 'https://api/',
      default_directory: 'db',
      session_lifetime: 72,
      idle_session_lifetime: 24,
      flags: { enable_client_connections: false },
    };
    assert.equal(await storage.tenant.get(), undefined);
    assert.equal(await storage.tenant.create(settings), true);
    assert.deepEqual(await storage.tenant.get(), settings);
    assert.equal(await storage.tenant.create({ ...settings, friendly_name: 'second' }), false);
    assert.deepEqual(await storage.tenant.get(), settings);
    await storage.tenant.put({ ...settings, friendly_name: 'put' });
    assert.equal((await storage.tenant.get())?.friendly_name, 'put');
    assert.ok(changes.includes('tenant:default'));
  });

  test('signing keys: each rotation retires exactly the current key; older retirements are kept', async () => {
    const key = (kid: string, createdAt: string) => ({
      kid,
      alg: 'RS256' as const,
      publicJwk: { kty: 'RSA', n: `n-${kid}`, e: 'AQAB' },
      privateKeyEncrypted: `sealed-${kid}`,
      createdAt,
      retiredAt: null,
      publishUntil: null,
    });
    assert.deepEqual(await storage.signingKeys.list(), []);
    await storage.signingKeys.rotate(key('k1', at(1)), at(0));
    assert.deepEqual(await storage.signingKeys.list(), [key('k1', at(1))]);
    await storage.signingKeys.rotate(key('k2', at(2)), at(10));
    await storage.signingKeys.rotate(key('k3', at(3)), at(20));
    assert.deepEqual(await storage.signingKeys.list(), [
      { ...key('k1', at(1)), retiredAt: at(2), publishUntil: at(10) },
      { ...key('k2', at(2)), retiredAt: at(3), publishUntil: at(20) },
      key('k3', at(3)),
    ]);
    await assert.rejects(storage.signingKeys.rotate(key('k3', at(4)), at(30)), 'a kid is unique');
    assert.equal((await storage.signingKeys.list()).filter((k) => k.retiredAt === null).length, 1, 'the failed rotation retired nothing');
  });

  const tx = (id: string, minute: number, source?: string) => ({
    id,
    csrf: `csrf-${id}`,
    request: {
      clientId: 'c',
      redirectUri: 'http://127.0.0.1/cb',
      responseType: 'code',
      responseMode: 'query' as const,
      scope: ['openid'],
      prompt: [],
    },
    createdAt: at(0),
    expiresAt: at(minute),
    ...(source ? { source } : {}),
  });

  test('login transactions: put, get, update in place, delete; trimming touches one source only', async () => {
    await storage.loginTransactions.put({ ...tx('ltx-1', 10, 'src-x'), upstream: { connection: 'github', codeVerifier: 'v', nonce: 'n' } });
    assert.deepEqual(await storage.loginTransactions.get('ltx-1'), {
      ...tx('ltx-1', 10, 'src-x'),
      upstream: { connection: 'github', codeVerifier: 'v', nonce: 'n' },
    });
    await storage.loginTransactions.put({ ...tx('ltx-1', 20), userId: 'auth0|u', device: { userCode: 'ABCD-EFGH' } });
    assert.deepEqual(await storage.loginTransactions.get('ltx-1'), {
      ...tx('ltx-1', 20, 'src-x'),
      userId: 'auth0|u',
      device: { userCode: 'ABCD-EFGH' },
    });
    for (let i = 2; i <= 4; i++) await storage.loginTransactions.put(tx(`ltx-${i}`, i, 'src-x'));
    await storage.loginTransactions.put(tx('ltx-y', 1, 'src-y'));
    await storage.loginTransactions.trim('src-x', 2, 'ltx-2');
    // ltx-2 (the newest) and ltx-1 (expires last) stay.
    const left = await Promise.all(
      ['ltx-1', 'ltx-2', 'ltx-3', 'ltx-4', 'ltx-y'].map(async (id) => (await storage.loginTransactions.get(id)) !== undefined),
    );
    assert.deepEqual(left, [true, true, false, false, true]);
    await storage.loginTransactions.trim('src-absent', 1, 'ltx-1');
    assert.ok(await storage.loginTransactions.get('ltx-1'));
    await storage.loginTransactions.delete('ltx-1');
    assert.equal(await storage.loginTransactions.get('ltx-1'), undefined);
    await storage.loginTransactions.delete('ltx-1'); // deleting twice is fine
  });

  test('sessions: create, touch, end once; endSessionsOf ends only that user’s live sessions', async () => {
    const session = (sid: string, userId: string) => ({
      sid,
      userId,
      authTime: at(0),
      lastSeenAt: at(0),
      expiresAt: at(60),
      endedAt: null,
    });
    await storage.sessions.create('sh-1', { ...session('sid-1', 'auth0|a'), connection: 'db', upstreamIdToken: 'sealed' });
    await storage.sessions.create('sh-2', session('sid-2', 'auth0|a'));
    await storage.sessions.create('sh-3', session('sid-3', 'auth0|b'));
    await assert.rejects(storage.sessions.create('sh-1', session('sid-x', 'auth0|c')), 'an id hash is unique');
    assert.deepEqual(await storage.sessions.get('sh-1'), { ...session('sid-1', 'auth0|a'), connection: 'db', upstreamIdToken: 'sealed' });
    assert.deepEqual(await storage.sessions.get('sh-2'), session('sid-2', 'auth0|a'));

    await storage.sessions.touch('sh-2', at(5));
    assert.equal((await storage.sessions.get('sh-2'))?.lastSeenAt, at(5));
    await storage.sessions.end('sh-2', at(6));
    await storage.sessions.end('sh-2', at(7));
    assert.equal((await storage.sessions.get('sh-2'))?.endedAt, at(6), 'the first end stands');

    await storage.sessions.endAllOf('auth0|a', at(8));
    assert.equal((await storage.sessions.get('sh-1'))?.endedAt, at(8));
    assert.equal((await storage.sessions.get('sh-2'))?.endedAt, at(6));
    assert.equal((await storage.sessions.get('sh-3'))?.endedAt, null);
    assert.equal(await storage.sessions.get('sh-absent'), undefined);
  });

  test('authorization codes: stored as given, claimed once, replay and issued tokens recorded', async () => {
    const data = {
      clientId: 'c',
      userId: 'auth0|a',
      scope: ['openid'],
      audience: 'https://api/',
      sid: 'sid',
      authTime: at(0),
      redirectUri: 'http://127.0.0.1/cb',
      nonce: 'n',
      codeChallenge: 'cc',
    };
    await storage.codes.insert('ac-1', data, at(1));
    assert.deepEqual(await storage.codes.get('ac-1'), {
      data,
      expiresAt: at(1),
      consumedAt: null,
      familyId: null,
      accessTokenHash: null,
      replayedAt: null,
    });
    assert.equal(await storage.codes.claim('ac-1', at(0)), true);
    assert.equal(await storage.codes.claim('ac-1', at(0)), false);
    await storage.codes.recordTokens('ac-1', { familyId: 'fam', accessTokenHash: 'ath' });
    await storage.codes.markReplayed('ac-1', at(2));
    await storage.codes.markReplayed('ac-1', at(3));
    assert.deepEqual(await storage.codes.get('ac-1'), {
      data,
      expiresAt: at(1),
      consumedAt: at(0),
      familyId: 'fam',
      accessTokenHash: 'ath',
      replayedAt: at(2),
    });
  });

  const refreshToken = (familyId: string, userId: string, clientId: string): RefreshTokenRecord => ({
    familyId,
    grant: { clientId, userId, scope: ['openid', 'offline_access'], audience: 'https://api/', sid: 'sid', authTime: at(0) },
    familyExpiresAt: at(600),
    createdAt: at(0),
    expiresAt: at(60),
    rotatedAt: null,
    revokedAt: null,
  });

  test('refresh tokens: round trip, sliding expiry, family revocation, revocation per user and client', async () => {
    await storage.refreshTokens.insert('r-1', refreshToken('f-1', 'auth0|a', 'c1'));
    assert.deepEqual(await storage.refreshTokens.get('r-1'), refreshToken('f-1', 'auth0|a', 'c1'));
    await storage.refreshTokens.extend('r-1', at(90));
    assert.equal((await storage.refreshTokens.get('r-1'))?.expiresAt, at(90));
    await storage.refreshTokens.extend('r-1', null);
    assert.equal((await storage.refreshTokens.get('r-1'))?.expiresAt, null);

    await storage.refreshTokens.insert('r-2', refreshToken('f-1', 'auth0|a', 'c1'));
    await storage.refreshTokens.insert('r-3', refreshToken('f-2', 'auth0|a', 'c1'));
    await storage.refreshTokens.insert('r-4', refreshToken('f-3', 'auth0|a', 'c2'));
    await storage.refreshTokens.insert('r-5', refreshToken('f-4', 'auth0|b', 'c1'));
    await storage.refreshTokens.revokeFamily('f-1', at(10));
    await storage.refreshTokens.revokeFamily('f-1', at(11));
    const revokedAt = async () =>
      Promise.all(['r-1', 'r-2', 'r-3', 'r-4', 'r-5'].map(async (h) => (await storage.refreshTokens.get(h))?.revokedAt));
    assert.deepEqual(await revokedAt(), [at(10), at(10), null, null, null]);
    await storage.refreshTokens.revokeAllOf('auth0|a', 'c1', at(12));
    assert.deepEqual(await revokedAt(), [at(10), at(10), at(12), null, null]);
    await storage.refreshTokens.revokeAllOf('auth0|a', undefined, at(13));
    assert.deepEqual(await revokedAt(), [at(10), at(10), at(12), at(13), null]);
    assert.equal(await storage.refreshTokens.markRotated('r-4', at(14)), false, 'a revoked token does not rotate');
    assert.equal(await storage.refreshTokens.markRotated('r-5', at(14)), true);
    assert.equal(await storage.refreshTokens.markRotated('r-5', at(15)), false);
    assert.equal((await storage.refreshTokens.get('r-5'))?.rotatedAt, at(14));
    assert.equal(await storage.refreshTokens.get('r-absent'), undefined);
  });

  test('batch cascades (sessions, refresh and access tokens, consents, permissions, users) touch only the users named', async () => {
    const gone = ['auth0|many-1', 'auth0|many-2'];
    const kept = 'auth0|many-3';
    for (const [i, id] of [...gone, kept].entries()) {
      const record = {
        user: { ...user(id, `many${i}@example.com`, at(1)), user_metadata: { team: 'many' } },
        connection: 'many',
        passwordHash: null,
      };
      assert.equal(await storage.users.insert(record), true);
      await storage.sessions.create(`many-s-${i}`, {
        sid: `many-${i}`,
        userId: id,
        authTime: at(0),
        lastSeenAt: at(0),
        expiresAt: at(60),
        endedAt: null,
      });
      await storage.refreshTokens.insert(`many-r-${i}`, refreshToken(`many-f-${i}`, id, 'many-client'));
      await storage.accessTokens.insert(`many-o-${i}`, { clientId: 'many-client', userId: id, scope: [], expiresAt: at(5) });
      await storage.consents.put({ userId: id, clientId: 'many-client', audience: 'https://many/', scope: [], updatedAt: at(0) });
      await storage.permissions.add(id, [{ audience: 'https://many/', permission: 'read' }], at(0));
    }
    for (const none of [[], gone]) {
      await storage.sessions.endAllOfMany(none, at(9));
      await storage.refreshTokens.revokeAllOfMany(none, at(9));
      await storage.accessTokens.deleteAllOfMany(none);
      await storage.consents.deleteAllOfMany(none);
      await storage.permissions.removeAllOfMany(none);
      await storage.users.deleteMany(none);
    }
    for (const [i, id] of [...gone, kept].entries()) {
      const isGone = id !== kept;
      assert.equal((await storage.sessions.get(`many-s-${i}`))?.endedAt, isGone ? at(9) : null);
      assert.equal((await storage.refreshTokens.get(`many-r-${i}`))?.revokedAt, isGone ? at(9) : null);
      assert.equal((await storage.accessTokens.get(`many-o-${i}`)) === undefined, isGone);
      assert.equal((await storage.consents.list({ userId: id })).length, isGone ? 0 : 1);
      assert.equal((await storage.permissions.list(id)).length, isGone ? 0 : 1);
      assert.equal((await storage.users.get(id)) === undefined, isGone);
    }
    const terms = await (storage as KyselyStorage).db
      .selectFrom('user_search_terms')
      .select('user_id')
      .distinct()
      .where('user_id', 'in', [...gone, kept])
      .execute();
    assert.deepEqual(
      terms.map((t) => t.user_id),
      [kept],
      'the search terms of the deleted users went too',
    );
    // Leaves nothing behind for the tests that list every consent.
    await storage.consents.deleteAllOfMany([kept]);
    await storage.permissions.removeAllOfMany([kept]);
    await storage.users.deleteMany([kept]);
    assert.equal(await storage.users.get(kept), undefined);
  });

  test('opaque access tokens: round trip, delete one, delete all of a user', async () => {
    const token = (userId: string) => ({ clientId: 'c', userId, scope: ['read'], expiresAt: at(5) });
    await storage.accessTokens.insert('o-1', token('auth0|a'));
    await storage.accessTokens.insert('o-2', token('auth0|a'));
    await storage.accessTokens.insert('o-3', token('auth0|b'));
    assert.deepEqual(await storage.accessTokens.get('o-1'), token('auth0|a'));
    await storage.accessTokens.delete('o-1');
    assert.equal(await storage.accessTokens.get('o-1'), undefined);
    await storage.accessTokens.deleteAllOf('auth0|a');
    assert.equal(await storage.accessTokens.get('o-2'), undefined);
    assert.deepEqual(await storage.accessTokens.get('o-3'), token('auth0|b'));
  });

  test('consents: one per user, client and API with a stable id; list filters; delete by id and in bulk', async () => {
    const consent = (userId: string, clientId: string, audience: string, minute: number, scope = ['read']) => ({
      userId,
      clientId,
      audience,
      scope,
      updatedAt: at(minute),
    });
    await storage.consents.put(consent('auth0|a', 'c1', 'https://a/', 1));
    const first = await storage.consents.get('auth0|a', 'c1', 'https://a/');
    assert.ok(first);
    assert.ok(first.id.startsWith('cgt_'));
    assert.deepEqual(first, { id: first.id, ...consent('auth0|a', 'c1', 'https://a/', 1) });
    await storage.consents.put(consent('auth0|a', 'c1', 'https://a/', 2, ['read', 'write']));
    assert.deepEqual(await storage.consents.get('auth0|a', 'c1', 'https://a/'), {
      id: first.id,
      ...consent('auth0|a', 'c1', 'https://a/', 2, ['read', 'write']),
    });
    await storage.consents.put(consent('auth0|a', 'c1', 'https://b/', 3));
    await storage.consents.put(consent('auth0|a', 'c2', 'https://a/', 4));
    await storage.consents.put(consent('auth0|b', 'c1', 'https://a/', 5));

    const ids = (list: Array<{ userId: string; clientId: string; audience: string }>) =>
      list.map((c) => `${c.userId} ${c.clientId} ${c.audience}`);
    assert.deepEqual(ids(await storage.consents.list({ userId: 'auth0|a' })), [
      'auth0|a c1 https://a/',
      'auth0|a c1 https://b/',
      'auth0|a c2 https://a/',
    ]);
    assert.deepEqual(ids(await storage.consents.list({ clientId: 'c1', audience: 'https://a/' })), [
      'auth0|a c1 https://a/',
      'auth0|b c1 https://a/',
    ]);
    assert.deepEqual(await storage.consents.list({ userId: 'auth0|nobody' }), []);

    assert.deepEqual(await storage.consents.delete(first.id), {
      id: first.id,
      ...consent('auth0|a', 'c1', 'https://a/', 2, ['read', 'write']),
    });
    assert.equal(await storage.consents.delete(first.id), undefined);
    await storage.consents.deleteAllOf('auth0|a', 'c1');
    assert.deepEqual(ids(await storage.consents.list({ userId: 'auth0|a' })), ['auth0|a c2 https://a/']);
    await storage.consents.deleteAllOf('auth0|a');
    assert.deepEqual(ids(await storage.consents.list({})), ['auth0|b c1 https://a/']);
  });

  test('login throttles: a window restarts after its cut-off; locks are set and cleared per key', async () => {
    assert.equal(await storage.throttles.get('t-a'), undefined);
    assert.deepEqual(await storage.throttles.recordFailure('t-a', at(0), at(-15)), {
      failures: 1,
      windowStartedAt: at(0),
      lockedUntil: null,
    });
    assert.deepEqual(await storage.throttles.recordFailure('t-a', at(10), at(-5)), {
      failures: 2,
      windowStartedAt: at(0),
      lockedUntil: null,
    });
    // The window began at minute 0, before the cut-off at minute 1: it starts again.
    assert.deepEqual(await storage.throttles.recordFailure('t-a', at(16), at(1)), {
      failures: 1,
      windowStartedAt: at(16),
      lockedUntil: null,
    });
    await storage.throttles.recordFailure('t-b', at(0), at(-15));
    await storage.throttles.lock('t-a', at(40));
    assert.equal((await storage.throttles.get('t-a'))?.lockedUntil, at(40));
    assert.equal((await storage.throttles.get('t-b'))?.lockedUntil, null);
    await storage.throttles.lock('t-absent', at(40));
    assert.equal(await storage.throttles.get('t-absent'), undefined, 'locking a key with no failures creates nothing');
    await storage.throttles.forgiveFailure('t-a');
    await storage.throttles.forgiveFailure('t-a');
    assert.equal((await storage.throttles.get('t-a'))?.failures, 0, 'never below zero');
    await storage.throttles.clear('t-a');
    assert.equal(await storage.throttles.get('t-a'), undefined);
    assert.equal((await storage.throttles.get('t-b'))?.failures, 1);
  });

  test('device codes: round trip, lookup by user code, polls, decisions and consumption', async () => {
    const record: DeviceCodeRecord = {
      userCode: 'WXYZ-1234',
      status: 'pending',
      clientId: 'tv',
      scope: ['openid'],
      audience: 'https://api/',
      expiresAt: at(15),
      lastPolledAt: null,
    };
    assert.equal(await storage.deviceCodes.insert('dev-1', record), true);
    assert.equal(await storage.deviceCodes.insert('dev-2', { ...record, clientId: 'other' }), false, 'user code taken');
    assert.deepEqual(await storage.deviceCodes.get('dev-1'), record);
    assert.deepEqual(await storage.deviceCodes.findByUserCode('WXYZ-1234'), { deviceCodeHash: 'dev-1', record });
    assert.equal(await storage.deviceCodes.findByUserCode('NONE-0000'), undefined);

    assert.equal(await storage.deviceCodes.recordPoll('dev-1', at(1)), null);
    assert.equal(await storage.deviceCodes.recordPoll('dev-1', at(2)), at(1));
    assert.equal((await storage.deviceCodes.get('dev-1'))?.lastPolledAt, at(2));
    assert.equal(await storage.deviceCodes.recordPoll('dev-absent', at(2)), null);

    const approval = { userId: 'auth0|a', sid: 'sid', authTime: at(3) };
    assert.equal(await storage.deviceCodes.decide('dev-1', 'approved', approval), true);
    assert.deepEqual(await storage.deviceCodes.get('dev-1'), { ...record, status: 'approved', lastPolledAt: at(2), approval });
    assert.equal(await storage.deviceCodes.consume('dev-1'), true);
    assert.equal(await storage.deviceCodes.consume('dev-1'), false);
    assert.equal((await storage.deviceCodes.findByUserCode('WXYZ-1234'))?.record.status, 'consumed');
  });

  test('registration tokens: one digest per client, replaced by put, deleted per client', async () => {
    assert.equal(await storage.registrations.getTokenDigest('dyn-1'), undefined);
    await storage.registrations.putTokenDigest('dyn-1', 'digest-a');
    await storage.registrations.putTokenDigest('dyn-2', 'digest-b');
    assert.equal(await storage.registrations.getTokenDigest('dyn-1'), 'digest-a');
    await storage.registrations.putTokenDigest('dyn-1', 'digest-c');
    assert.equal(await storage.registrations.getTokenDigest('dyn-1'), 'digest-c');
    await storage.registrations.delete('dyn-1');
    assert.equal(await storage.registrations.getTokenDigest('dyn-1'), undefined);
    assert.equal(await storage.registrations.getTokenDigest('dyn-2'), 'digest-b');
  });

  test('user permissions: an API’s permissions are removed from every user, all or by name', async () => {
    const p = (audience: string, permission: string) => ({ audience, permission });
    await storage.permissions.add('auth0|p1', [p('https://x/', 'read'), p('https://x/', 'write'), p('https://y/', 'read')], at(0));
    await storage.permissions.add('auth0|p2', [p('https://x/', 'read'), p('https://x/', 'write')], at(0));
    await storage.permissions.removeForApi('https://x/', ['write']);
    assert.deepEqual(await storage.permissions.list('auth0|p1'), [p('https://x/', 'read'), p('https://y/', 'read')]);
    assert.deepEqual(await storage.permissions.list('auth0|p2'), [p('https://x/', 'read')]);
    await storage.permissions.removeForApi('https://x/');
    assert.deepEqual(await storage.permissions.list('auth0|p1'), [p('https://y/', 'read')]);
    assert.deepEqual(await storage.permissions.list('auth0|p2'), []);
    assert.deepEqual(await storage.permissions.list('auth0|p1', 'https://x/'), []);
  });

  test('roles: unique names, name_filter, permissions per role and API, members both ways, held permissions in one list', async () => {
    const p = (audience: string, permission: string) => ({ audience, permission });
    assert.equal(await storage.roles.insert({ id: 'rol_b', name: 'Bravo', description: 'b' }, at(1)), true);
    assert.equal(await storage.roles.insert({ id: 'rol_a', name: 'alpha' }, at(2)), true);
    assert.equal(await storage.roles.insert({ id: 'rol_c', name: 'Charlie' }, at(3)), true);
    assert.equal(await storage.roles.insert({ id: 'rol_x', name: 'Bravo' }, at(4)), false, 'names are unique');
    assert.deepEqual(await storage.roles.get('rol_b'), { id: 'rol_b', name: 'Bravo', description: 'b' });
    assert.deepEqual(await storage.roles.get('rol_a'), { id: 'rol_a', name: 'alpha' });
    assert.deepEqual((await storage.roles.existingIds(['rol_a', 'rol_nope', 'rol_c'])).sort(), ['rol_a', 'rol_c']);

    const names = async (filter: string | undefined, o = 0, limit = 10) => {
      const page = await storage.roles.list({ nameFilter: filter }, offset(o, limit));
      return [page.items.map((r) => r.name), page.total];
    };
    // Ordered by name (byte order: upper case first), filtered case-insensitively, paged with a total.
    assert.deepEqual(await names(undefined), [['Bravo', 'Charlie', 'alpha'], 3]);
    assert.deepEqual(await names('A', 1, 1), [['Charlie'], 3]);
    assert.deepEqual(await names('rav'), [['Bravo'], 1]);
    assert.deepEqual(await names('%'), [[], 0], 'no LIKE wildcards');

    assert.equal(await storage.roles.update({ id: 'rol_c', name: 'alpha' }), 'conflict');
    assert.equal(await storage.roles.update({ id: 'rol_c', name: 'Charles', description: 'c' }), true);
    assert.equal(await storage.roles.update({ id: 'rol_nope', name: 'Nobody' }), false);
    assert.deepEqual(await storage.roles.get('rol_c'), { id: 'rol_c', name: 'Charles', description: 'c' });

    await storage.roles.addPermissions('rol_b', [p('https://x/', 'write'), p('https://x/', 'read'), p('https://x/', 'read')], at(0));
    await storage.roles.addPermissions('rol_b', [p('https://y/', 'read')], at(0));
    await storage.roles.addPermissions('rol_a', [p('https://x/', 'read')], at(0));
    const permissionsOf = async (roleId: string) => (await storage.roles.listPermissions(roleId, offset(0, 10))).items;
    assert.deepEqual(await permissionsOf('rol_b'), [p('https://x/', 'read'), p('https://x/', 'write'), p('https://y/', 'read')]);
    assert.deepEqual(await storage.roles.listPermissions('rol_b', offset(1, 1)), { items: [p('https://x/', 'write')], total: 3 });
    await storage.roles.removePermissions('rol_b', [p('https://y/', 'read')]);
    await storage.roles.removePermissionsForApi('https://x/', ['write']);
    assert.deepEqual(await permissionsOf('rol_b'), [p('https://x/', 'read')]);

    for (const [id, minute] of [
      ['auth0|r1', 10],
      ['auth0|r2', 11],
      ['auth0|r3', 12],
    ] as const) {
      await storage.users.insert({ user: user(id, `${id.slice(6)}@roles.example`, at(minute)), connection: 'db', passwordHash: null });
    }
    await storage.roles.assign(['auth0|r2', 'auth0|r1'], ['rol_b'], at(20));
    await storage.roles.assign(['auth0|r3'], ['rol_b', 'rol_a'], at(21));
    await storage.roles.assign(['auth0|r3'], ['rol_b'], at(22)); // already held: unchanged, keeps its place
    const members = await storage.roles.listMembers('rol_b', offset(0, 10));
    assert.deepEqual(
      members.items.map((u) => u.user_id),
      ['auth0|r1', 'auth0|r2', 'auth0|r3'],
    );
    assert.equal(members.total, 3);
    const first = await storage.roles.listMembers('rol_b', { kind: 'checkpoint', from: undefined, take: 2 });
    assert.deepEqual(
      first.items.map((u) => u.user_id),
      ['auth0|r1', 'auth0|r2'],
    );
    const rest = await storage.roles.listMembers('rol_b', { kind: 'checkpoint', from: first.next, take: 2 });
    assert.deepEqual(
      rest.items.map((u) => u.user_id),
      ['auth0|r3'],
    );
    assert.equal(rest.next, undefined);
    assert.deepEqual(await storage.roles.listRolesOf('auth0|r3', offset(0, 10)), {
      items: [
        { id: 'rol_b', name: 'Bravo', description: 'b' },
        { id: 'rol_a', name: 'alpha' },
      ],
      total: 2,
    });

    // Direct and through roles, in one list: a permission held two ways comes twice.
    await storage.permissions.add('auth0|r3', [p('https://x/', 'read'), p('https://z/', 'read')], at(0));
    const held = await storage.permissions.listHeld('auth0|r3', 'https://x/');
    assert.deepEqual(held.map((h) => h.role?.id ?? 'direct').sort(), ['direct', 'rol_a', 'rol_b']);
    assert.ok(held.every((h) => h.audience === 'https://x/' && h.permission === 'read'));
    assert.equal((await storage.permissions.listHeld('auth0|r3')).length, 4);
    assert.deepEqual(await storage.permissions.listHeld('auth0|r1', 'https://z/'), []);

    await storage.roles.unassign('auth0|r3', ['rol_a', 'rol_nope']);
    assert.deepEqual(
      (await storage.roles.listRolesOf('auth0|r3', offset(0, 10))).items.map((r) => r.id),
      ['rol_b'],
    );
    await storage.roles.removeAllRolesOfMany(['auth0|r3']);
    await storage.roles.removeAllMembersOf('rol_a');
    await storage.roles.removeAllPermissionsOf('rol_a');
    assert.equal(await storage.roles.delete('rol_a'), true);
    assert.equal(await storage.roles.delete('rol_a'), false);
    assert.deepEqual(
      (await storage.roles.listMembers('rol_b', offset(0, 10))).items.map((u) => u.user_id),
      ['auth0|r1', 'auth0|r2'],
    );
    assert.deepEqual(await storage.permissions.listHeld('auth0|r3'), [
      { audience: 'https://x/', permission: 'read' },
      { audience: 'https://z/', permission: 'read' },
    ]);
  });

  test('rate limits: each key has its own window', async () => {
    assert.equal(await storage.rateLimits.hit('rl-a', at(0)), 1);
    assert.equal(await storage.rateLimits.hit('rl-a', at(0)), 2);
    assert.equal(await storage.rateLimits.hit('rl-b', at(0)), 1);
    assert.equal(await storage.rateLimits.hit('rl-a', at(1)), 1);
    assert.equal(await storage.rateLimits.hit('rl-a', at(1)), 2);
  });
});
