import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client, ClientGrant, Connection, PageRequest, ResourceServer, User } from '../src/domain/types.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { type TestDatabase, testDatabase } from './helpers/storage.js';

/**
 * One conformance suite for every storage backend (run once per `LATCHKEY_TEST_DB`), in the manner
 * of better-auth's adapter tests: the protocol code may rely on exactly what is asserted here.
 */
describe(`storage conformance (${backend})`, () => {
  let database: TestDatabase;
  let storage: Storage;
  const changes: string[] = [];

  before(async () => {
    database = testDatabase();
    storage = await database.open();
    await storage.migrate();
    await storage.migrate(); // idempotent
    storage.changes.subscribe((kind, key) => changes.push(`${kind}:${key}`));
  });
  after(async () => {
    await storage.close();
    await database.drop();
  });

  const client = (id: string, name = id): Client => ({
    client_id: id,
    name,
    description: '',
    app_type: 'regular_web',
    callbacks: [],
    allowed_logout_urls: [],
    web_origins: [],
    allowed_origins: [],
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_post',
    is_first_party: true,
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
    client_metadata: { team: 'α' },
  });

  test('clients round-trip, keep their secret digest apart, and announce changes', async () => {
    await storage.clients.insert({ client: client('c1'), secretDigest: 'digest-1' });
    const read = await storage.clients.get('c1');
    assert.deepEqual(read, { client: client('c1'), secretDigest: 'digest-1' });
    assert.ok(changes.includes('client:c1'));

    assert.equal(await storage.clients.update({ ...client('c1'), name: 'renamed' }), true);
    assert.equal((await storage.clients.get('c1'))?.secretDigest, 'digest-1', 'update without a digest keeps it');
    assert.equal(await storage.clients.update(client('c1'), 'digest-2'), true);
    assert.equal((await storage.clients.get('c1'))?.secretDigest, 'digest-2');
    assert.equal(await storage.clients.update(client('absent')), false);

    assert.equal(await storage.clients.delete('c1'), true);
    assert.equal(await storage.clients.delete('c1'), false);
    assert.equal(await storage.clients.get('c1'), undefined);
  });

  test('offset paging with totals and checkpoint paging both see every item once, in creation order', async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `page-${i}`);
    for (const id of ids) await storage.clients.insert({ client: client(id), secretDigest: 'd' });

    const offsetPage = (offset: number, limit: number): PageRequest => ({ kind: 'offset', offset, limit, includeTotal: true });
    const first = await storage.clients.list(offsetPage(0, 3));
    assert.equal(first.total, 7);
    assert.deepEqual(
      first.items.map((c) => c.client_id),
      ids.slice(0, 3),
    );
    const last = await storage.clients.list(offsetPage(6, 3));
    assert.deepEqual(
      last.items.map((c) => c.client_id),
      ids.slice(6),
    );
    const noTotal = await storage.clients.list({ kind: 'offset', offset: 0, limit: 2, includeTotal: false });
    assert.equal(noTotal.total, undefined);

    const seen: string[] = [];
    let from: string | undefined;
    let pages = 0;
    do {
      const page = await storage.clients.list({ kind: 'checkpoint', from, take: 3 });
      seen.push(...page.items.map((c) => c.client_id));
      from = page.next;
      pages++;
    } while (from);
    assert.deepEqual(seen, ids);
    assert.equal(pages, 3);
  });

  test('resource server identifiers are unique and resolvable both ways', async () => {
    const rs: ResourceServer = {
      id: 'rs1',
      name: 'API',
      identifier: 'https://api.example/',
      scopes: [{ value: 'read:x' }],
      signing_alg: 'RS256',
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
      token_lifetime: 600,
      token_lifetime_for_web: 600,
      token_dialect: 'access_token',
      enforce_policies: false,
    };
    assert.equal(await storage.resourceServers.insert(rs), true);
    assert.equal(await storage.resourceServers.insert({ ...rs, id: 'rs2' }), false, 'identifier taken');
    assert.deepEqual(await storage.resourceServers.getByIdentifier('https://api.example/'), rs);
    assert.deepEqual(await storage.resourceServers.get('rs1'), rs);
    assert.equal(await storage.resourceServers.delete('rs1'), true);
    assert.ok(changes.includes('resource_server:https://api.example/'));
    assert.equal(await storage.resourceServers.get('rs1'), undefined);
  });

  test('one client grant per client and audience; filters and bulk deletes', async () => {
    const grant = (id: string, clientId: string, audience: string): ClientGrant => ({ id, client_id: clientId, audience, scope: ['a'] });
    assert.equal(await storage.clientGrants.insert(grant('g1', 'x', 'https://a/')), true);
    assert.equal(await storage.clientGrants.insert(grant('g2', 'x', 'https://a/')), false);
    assert.equal(await storage.clientGrants.insert(grant('g3', 'x', 'https://b/')), true);
    assert.equal(await storage.clientGrants.insert(grant('g4', 'y', 'https://a/')), true);
    assert.deepEqual((await storage.clientGrants.find('x', 'https://b/'))?.id, 'g3');

    const byAudience = await storage.clientGrants.list(
      { audience: 'https://a/' },
      { kind: 'offset', offset: 0, limit: 10, includeTotal: true },
    );
    assert.deepEqual(
      byAudience.items.map((g) => g.id),
      ['g1', 'g4'],
    );
    assert.equal(byAudience.total, 2);

    await storage.clientGrants.deleteWhere({ client_id: 'x' });
    assert.equal(await storage.clientGrants.find('x', 'https://a/'), undefined);
    assert.equal((await storage.clientGrants.get('g4'))?.client_id, 'y');
    assert.ok(changes.includes('client_grant:x https://b/'));
  });

  test('connection names are unique', async () => {
    const connection: Connection = {
      id: 'con_1',
      name: 'db',
      strategy: 'auth0',
      options: { passwordPolicy: 'good' },
      enabled_clients: [],
      is_domain_connection: false,
      realms: ['db'],
    };
    assert.equal(await storage.connections.insert(connection), true);
    assert.equal(await storage.connections.insert({ ...connection, id: 'con_2' }), false);
    assert.deepEqual(await storage.connections.getByName('db'), connection);
    const filtered = await storage.connections.list({ strategy: 'oauth2' }, { kind: 'offset', offset: 0, limit: 10, includeTotal: true });
    assert.equal(filtered.total, 0);
  });

  test('user emails and usernames are unique per connection, case-insensitively', async () => {
    const user = (id: string, email: string, username?: string): User => ({
      user_id: id,
      email,
      email_verified: false,
      ...(username ? { username } : {}),
      identities: [],
      app_metadata: {},
      user_metadata: {},
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      logins_count: 0,
      blocked: false,
    });
    assert.equal(
      await storage.users.insert({ user: user('auth0|1', 'Ada@Example.com', 'ada'), connection: 'db', passwordHash: 'h' }),
      true,
    );
    assert.equal(await storage.users.insert({ user: user('auth0|2', 'ada@example.COM'), connection: 'db', passwordHash: 'h' }), false);
    assert.equal(await storage.users.insert({ user: user('auth0|3', 'ada@example.com'), connection: 'other', passwordHash: null }), true);
    assert.equal(
      await storage.users.insert({ user: user('auth0|4', 'bob@example.com', 'ADA'), connection: 'db', passwordHash: 'h' }),
      false,
    );

    assert.equal((await storage.users.findByEmail('db', 'ADA@example.com'))?.user.user_id, 'auth0|1');
    assert.equal((await storage.users.findByUsername('db', 'Ada'))?.user.user_id, 'auth0|1');
    assert.equal((await storage.users.get('auth0|3'))?.passwordHash, null);

    assert.equal(await storage.users.insert({ user: user('auth0|5', 'eve@example.com'), connection: 'db', passwordHash: 'h' }), true);
    assert.equal(await storage.users.update({ user: user('auth0|5', 'ADA@example.com'), connection: 'db', passwordHash: 'h' }), 'conflict');
    assert.equal(await storage.users.update({ user: user('auth0|5', 'eve2@example.com'), connection: 'db', passwordHash: 'h2' }), true);
    assert.equal((await storage.users.findByEmail('db', 'eve2@example.com'))?.passwordHash, 'h2');
    assert.equal(await storage.users.update({ user: user('auth0|nobody', 'n@example.com'), connection: 'db', passwordHash: null }), false);
    assert.equal(await storage.users.delete('auth0|5'), true);
    assert.equal(await storage.users.delete('auth0|5'), false);
  });

  test('the tenant is created once; later writes replace it', async () => {
    const settings = {
      friendly_name: 'one',
      allowed_logout_urls: [],
      default_audience: '',
      default_directory: '',
      session_lifetime: 1,
      idle_session_lifetime: 1,
      flags: {},
    };
    assert.equal(await storage.tenant.create(settings), true);
    assert.equal(await storage.tenant.create({ ...settings, friendly_name: 'two' }), false);
    assert.equal((await storage.tenant.get())?.friendly_name, 'one');
    await storage.tenant.put({ ...settings, friendly_name: 'three' });
    assert.equal((await storage.tenant.get())?.friendly_name, 'three');
  });

  test('rotating a signing key retires the current one with a publish window, atomically', async () => {
    const key = (kid: string, createdAt: string) => ({
      kid,
      alg: 'RS256' as const,
      publicJwk: { kty: 'RSA', n: kid, e: 'AQAB' },
      privateKeyEncrypted: `sealed-${kid}`,
      createdAt,
      retiredAt: null,
      publishUntil: null,
    });
    await storage.signingKeys.rotate(key('k1', '2026-01-01T00:00:00.000Z'), '2026-01-01T00:00:00.000Z');
    await storage.signingKeys.rotate(key('k2', '2026-01-02T00:00:00.000Z'), '2026-01-03T00:00:00.000Z');
    const keys = await storage.signingKeys.list();
    assert.deepEqual(
      keys.map((k) => [k.kid, k.retiredAt, k.publishUntil]),
      [
        ['k1', '2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z'],
        ['k2', null, null],
      ],
    );
    assert.ok(changes.includes('signing_key:k2'));
  });
  test('login failures count atomically within a window, can be taken back, and lock', async () => {
    const key = 'ip:198.51.100.7';
    const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
    const counts = await Promise.all(Array.from({ length: 8 }, () => storage.throttles.recordFailure(key, at(0), at(-15))));
    assert.deepEqual(
      counts.map((c) => c.failures).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    await storage.throttles.forgiveFailure(key);
    assert.equal((await storage.throttles.get(key))?.failures, 7);
    await storage.throttles.lock(key, at(30));
    // While locked, nothing is counted: retries cannot carry the lock into the next window.
    assert.deepEqual(await storage.throttles.recordFailure(key, at(20), at(5)), {
      failures: 7,
      windowStartedAt: at(0),
      lockedUntil: at(30),
    });
    // After the lock, a window that started before the cut-off starts again at one.
    assert.equal((await storage.throttles.recordFailure(key, at(31), at(16))).failures, 1);
    await storage.throttles.clear(key);
    assert.equal(await storage.throttles.get(key), undefined);
    await storage.throttles.forgiveFailure(key); // nothing to take back: no row appears
    assert.equal(await storage.throttles.get(key), undefined);
  });
  test('login transactions: a source keeps the ones that expire last, up to its cap; others are untouched', async () => {
    const tx = (id: string, minute: number, source?: string) => ({
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
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: new Date(Date.UTC(2026, 0, 1, 1, minute)).toISOString(),
      ...(source ? { source } : {}),
    });
    for (const [i, minute] of [5, 1, 9, 3, 7, 3].entries()) await storage.loginTransactions.put(tx(`trim-a${i}`, minute, 'source-a'));
    await storage.loginTransactions.put(tx('trim-b0', 0, 'source-b'));
    await storage.loginTransactions.put(tx('trim-none', 0));
    // a5 is the newest: kept whatever its expiry, with the two others that expire last.
    await storage.loginTransactions.trim('source-a', 3, 'trim-a5');
    const left = await Promise.all(
      ['trim-a0', 'trim-a1', 'trim-a2', 'trim-a3', 'trim-a4', 'trim-a5'].map((id) => storage.loginTransactions.get(id)),
    );
    assert.deepEqual(
      left.map((t) => t?.id),
      [undefined, undefined, 'trim-a2', undefined, 'trim-a4', 'trim-a5'],
    );
    assert.equal(left[2]?.source, 'source-a');
    assert.ok(await storage.loginTransactions.get('trim-b0'));
    assert.ok(await storage.loginTransactions.get('trim-none'));
    // Re-putting (an update) keeps the source.
    await storage.loginTransactions.put({ ...tx('trim-a2', 11), userId: 'u' });
    assert.equal((await storage.loginTransactions.get('trim-a2'))?.source, 'source-a');
    await storage.loginTransactions.trim('source-a', 1, 'trim-a5');
    assert.equal(await storage.loginTransactions.get('trim-a2'), undefined);
    assert.ok(await storage.loginTransactions.get('trim-a5'));
  });
  test('user permissions: added once however often, listed by API and name, removed exactly', async () => {
    const now = '2026-01-01T00:00:00.000Z';
    const p = (audience: string, permission: string) => ({ audience, permission });
    await storage.permissions.add('auth0|perm', [p('https://b/', 'write'), p('https://a/', 'read'), p('https://b/', 'read')], now);
    await storage.permissions.add('auth0|perm', [p('https://a/', 'read')], now);
    await storage.permissions.add('auth0|other', [p('https://a/', 'read')], now);
    assert.deepEqual(await storage.permissions.list('auth0|perm'), [
      p('https://a/', 'read'),
      p('https://b/', 'read'),
      p('https://b/', 'write'),
    ]);
    assert.deepEqual(await storage.permissions.list('auth0|perm', 'https://b/'), [p('https://b/', 'read'), p('https://b/', 'write')]);
    await storage.permissions.remove('auth0|perm', [p('https://b/', 'write'), p('https://a/', 'nothing')]);
    assert.deepEqual(await storage.permissions.list('auth0|perm'), [p('https://a/', 'read'), p('https://b/', 'read')]);
    assert.deepEqual(await storage.permissions.list('auth0|other'), [p('https://a/', 'read')]);
  });
  test('a revoked refresh token family stays revoked for a token inserted afterwards, and through the sweep', async () => {
    const at = (day: number) => new Date(Date.UTC(2026, 0, day)).toISOString();
    const token = (familyId: string, userId: string, createdAt: string) => ({
      familyId,
      grant: { clientId: 'rt-client', userId, scope: ['openid', 'offline_access'], authTime: createdAt },
      familyExpiresAt: null,
      createdAt,
      expiresAt: null,
      rotatedAt: null,
      revokedAt: null,
    });
    await storage.refreshTokens.insert('rt-a1', token('fam-a', 'auth0|rt', at(1)));
    await storage.refreshTokens.revokeFamily('fam-a', at(2));
    // The successor a racing rotation inserts after the revocation: refused as well.
    await storage.refreshTokens.insert('rt-a2', token('fam-a', 'auth0|rt', at(2)));
    assert.equal((await storage.refreshTokens.get('rt-a1'))?.revokedAt, at(2));
    assert.equal((await storage.refreshTokens.get('rt-a2'))?.revokedAt, at(2));
    // The same when the revocation is by user and client (a consent withdrawn).
    await storage.refreshTokens.insert('rt-b1', token('fam-b', 'auth0|rt2', at(1)));
    await storage.refreshTokens.revokeAllOf('auth0|rt2', 'rt-client', at(3));
    await storage.refreshTokens.insert('rt-b2', token('fam-b', 'auth0|rt2', at(3)));
    assert.equal((await storage.refreshTokens.get('rt-b2'))?.revokedAt, at(3));
    // Another family is untouched.
    await storage.refreshTokens.insert('rt-c1', token('fam-c', 'auth0|rt', at(1)));
    assert.equal((await storage.refreshTokens.get('rt-c1'))?.revokedAt, null);
    // The sweep deletes the revoked rows, but the family's mark stays while a token of it remains.
    await storage.sweepExpired(at(30));
    assert.equal(await storage.refreshTokens.get('rt-a1'), undefined);
    assert.equal((await storage.refreshTokens.get('rt-a2'))?.revokedAt, at(2));
    assert.equal((await storage.refreshTokens.get('rt-c1'))?.revokedAt, null);
  });
});
