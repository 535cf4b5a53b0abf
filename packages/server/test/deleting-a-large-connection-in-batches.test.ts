import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { UserRecord } from '../src/domain/types.js';
import type { KyselyStorage } from '../src/storage/kysely/index.js';
import type { Storage } from '../src/storage/types.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

/**
 * Deleting a connection with many users answers 202 at once (as Auth0 does) and deletes them in the
 * background in short batches: other requests are answered while it runs (SQLite has a single
 * connection), the connection is unusable from the start, and every user goes with its sessions,
 * refresh tokens, consents, permissions and search terms.
 */
const USERS = 3000;
const API = 'https://large-connection.example.test/';
const PASSWORD = 'Correct-Horse-Battery-9';

let server: TestServer;
let storage: Storage;

before(async () => {
  // The setup below holds this process (server and client alike) for seconds in synchronous SQLite
  // writes; a 5 s keep-alive would then race the client's next request on the idle socket (ECONNRESET).
  server = await startTestServer({ config: { keepAliveTimeoutMs: 120_000 } });
  storage = server.ctx.storage;
});
after(() => server?.close());

async function ok(method: string, path: string, body?: unknown) {
  const response = await server.management(method, path, body);
  assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

function record(i: number, connection: string): UserRecord {
  const at = new Date(server.ctx.now()).toISOString();
  const id = `bulk${String(i).padStart(6, '0')}`;
  return {
    connection,
    passwordHash: null,
    user: {
      user_id: `auth0|${id}`,
      email: `${id}@large.example.test`,
      email_verified: true,
      name: `Bulk User ${i}`,
      nickname: id,
      identities: [{ connection, user_id: id, provider: 'auth0', isSocial: false }],
      app_metadata: { plan: 'bulk' },
      user_metadata: { team: `team-${i}` },
      created_at: at,
      updated_at: at,
      logins_count: 0,
      blocked: false,
    },
  };
}

const passwordRealm = (client: { client_id: string; client_secret: string }, realm: string, username: string) =>
  fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      client_id: client.client_id,
      client_secret: client.client_secret,
      realm,
      username,
      password: PASSWORD,
      scope: 'openid offline_access',
    }),
  });

test(`deleting a connection with ${USERS} users deletes them in batches while other requests are answered`, {
  timeout: 180_000,
}, async () => {
  await ok('POST', '/resource-servers', { name: 'Large', identifier: API, scopes: [{ value: 'read:things' }] });
  const web = await ok('POST', '/clients', {
    name: 'Large web',
    app_type: 'regular_web',
    callbacks: ['https://web.example/callback'],
    grant_types: ['authorization_code', 'refresh_token', 'http://auth0.com/oauth/grant-type/password-realm'],
  });
  const connection = await ok('POST', '/connections', {
    name: 'large-db',
    strategy: 'auth0',
    options: { brute_force_protection: false },
    enabled_clients: [web.client_id],
  });
  const kept = await ok('POST', '/users', {
    connection: 'Username-Password-Authentication',
    email: 'kept@large.example.test',
    password: PASSWORD,
  });

  // One real user who signs in, the rest inserted through the repositories.
  const real = await ok('POST', '/users', {
    connection: 'large-db',
    email: 'real@large.example.test',
    password: PASSWORD,
    user_id: 'zz-real', // after the bulk users: in the last batch
  });
  const signedIn = await passwordRealm(web, 'large-db', 'real@large.example.test');
  assert.equal(signedIn.status, 200, await signedIn.clone().text());
  const { refresh_token: refreshToken } = (await signedIn.json()) as { refresh_token: string };
  assert.ok(refreshToken);

  const at = new Date(server.ctx.now()).toISOString();
  const later = new Date(server.ctx.now() + 86_400_000).toISOString();
  const ids: string[] = [real.user_id];
  for (let i = 0; i < USERS - 1; i += 100) {
    await storage.transaction(async (tx) => {
      for (let j = i; j < Math.min(i + 100, USERS - 1); j++) {
        const user = record(j, 'large-db');
        assert.equal(await tx.users.insert(user), true);
        const userId = user.user.user_id;
        ids.push(userId);
        const session = { sid: `sid-${j}`, userId, authTime: at, lastSeenAt: at, expiresAt: later, endedAt: null, connection: 'large-db' };
        await tx.sessions.create(`session-${j}`, session);
        await tx.refreshTokens.insert(`refresh-${j}`, {
          familyId: `family-${j}`,
          grant: { clientId: web.client_id, userId, scope: ['openid', 'offline_access'], authTime: at },
          familyExpiresAt: null,
          createdAt: at,
          expiresAt: null,
          rotatedAt: null,
          revokedAt: null,
        });
        await tx.consents.put({ userId, clientId: web.client_id, audience: API, scope: ['read:things'], updatedAt: at });
        await tx.permissions.add(userId, [{ audience: API, permission: 'read:things' }], at);
      }
    });
  }
  assert.equal(ids.length, USERS);
  const refresh = () =>
    fetch(`${server.issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'refresh_token',
        client_id: web.client_id,
        client_secret: web.client_secret,
        refresh_token: refreshToken,
      }),
    });
  const db = (storage as KyselyStorage).db;
  const termsOf = async (userIds: string[]) => {
    const row = await db
      .selectFrom('user_search_terms')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', 'in', userIds)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  assert.ok((await termsOf(ids.slice(0, 1000))) > 0, 'the users have search terms');

  // The delete is held after its first batch until a read sent then is answered: with one long
  // transaction (SQLite has a single connection) the read would wait for the delete to end.
  const original = storage.transaction.bind(storage);
  let started = 0;
  let held = 0;
  let paused!: () => void;
  const midway = new Promise<void>((resolve) => {
    paused = resolve;
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  storage.transaction = (async (fn: Parameters<Storage['transaction']>[0]) => {
    if (++started === 3) {
      const since = performance.now();
      paused();
      await released;
      held = performance.now() - since;
    }
    return original(fn);
  }) as Storage['transaction'];
  const clock = performance.now();
  const deleting = server.management('DELETE', `/connections/${connection.id}`);
  try {
    await midway;
    // Answered while its users are still being deleted: the response does not wait for them.
    const deleted = await deleting;
    assert.equal(deleted.status, 202);
    const read = await server.management('GET', `/users/${encodeURIComponent(kept.user_id)}`);
    assert.equal(read.status, 200);
    assert.ok(await storage.users.get(ids[USERS - 1]!), 'users are still being deleted');
    // Meanwhile the connection is unusable: no sign-in, no sign-up, no refresh.
    assert.ok(await storage.users.get(real.user_id), 'the signed-in user is in the last batch');
    assert.notEqual((await refresh()).status, 200);
    assert.notEqual((await passwordRealm(web, 'large-db', 'real@large.example.test')).status, 200);
    const signUp = await server.management('POST', '/users', {
      connection: 'large-db',
      email: 'late@large.example.test',
      password: PASSWORD,
    });
    assert.equal(signUp.status, 400, JSON.stringify(signUp.body));
  } finally {
    release();
  }
  const deadline = Date.now() + 120_000;
  while ((await storage.users.listIdsOf('large-db', 1)).length > 0) {
    assert.ok(Date.now() < deadline, 'the users are deleted within two minutes');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(
    `# ${backend}: deleting a connection with ${USERS} users took ${Math.round(performance.now() - clock - held)} ms (pause excluded)`,
  );
  storage.transaction = original;

  // Everything of every user is gone.
  for (const userId of ids) {
    assert.equal(await storage.users.get(userId), undefined, userId);
  }
  assert.deepEqual(await storage.users.listIdsOf('large-db', 10), []);
  assert.deepEqual(await storage.consents.list({ clientId: web.client_id }), []);
  for (const userId of [ids[0]!, ids[1]!, ids[USERS - 1]!]) assert.deepEqual(await storage.permissions.list(userId), []);
  for (const j of [0, 1500, USERS - 2]) {
    assert.notEqual((await storage.sessions.get(`session-${j}`))?.endedAt ?? 'gone', null);
    const token = await storage.refreshTokens.get(`refresh-${j}`);
    assert.ok(token === undefined || token.revokedAt !== null);
  }
  for (let i = 0; i < USERS; i += 1000) assert.equal(await termsOf(ids.slice(i, i + 1000)), 0);
  const searched = await server.management('GET', `/users?q=${encodeURIComponent('user_metadata.team:"team-1"')}&search_engine=v3`);
  assert.equal(searched.status, 200);
  assert.deepEqual(searched.body, []);
  assert.notEqual((await refresh()).status, 200);
  assert.notEqual((await passwordRealm(web, 'large-db', 'real@large.example.test')).status, 200);
  assert.equal((await server.management('GET', `/connections/${connection.id}`)).status, 404);
  assert.ok(await storage.users.get(kept.user_id));
});

test('users a deletion left behind (the process died midway) are deleted before a connection of that name is created again', async () => {
  await ok('POST', '/connections', { name: 'crashed-db', strategy: 'auth0' });
  const left = await ok('POST', '/users', { connection: 'crashed-db', email: 'left@large.example.test', password: PASSWORD });
  // The first step of a deletion, alone: the connection row goes, its users stay.
  const row = (await storage.connections.getByName('crashed-db'))!;
  assert.equal(await storage.connections.delete(row.id), true);
  assert.ok(await storage.users.get(left.user_id));

  await ok('POST', '/connections', { name: 'crashed-db', strategy: 'auth0' });
  assert.equal(await storage.users.get(left.user_id), undefined, 'not adopted by the new connection');
  const users = await ok('GET', `/users?q=${encodeURIComponent('identities.connection:"crashed-db"')}&search_engine=v3`);
  assert.deepEqual(users, []);
});

test('users that a stopped deletion left on a gone connection are deleted at the next start', { timeout: 120_000 }, async () => {
  // As a process that died after the connection row went: 700 users on a name with no connection.
  const left: string[] = [];
  await storage.transaction(async (tx) => {
    for (let i = 0; i < 700; i++) {
      const user = record(100_000 + i, 'half-deleted-db');
      assert.equal(await tx.users.insert(user), true);
      left.push(user.user.user_id);
    }
  });
  const bystander = await ok('POST', '/users', {
    connection: 'Username-Password-Authentication',
    email: 'bystander@large.example.test',
    password: PASSWORD,
  });
  assert.ok((await storage.users.connectionNames()).includes('half-deleted-db'));

  const next = await startTestServer({ shareWith: server });
  try {
    const deadline = Date.now() + 60_000;
    while ((await storage.users.listIdsOf('half-deleted-db', 1)).length > 0) {
      assert.ok(Date.now() < deadline, 'the users left behind are deleted within a minute of the start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await next.close();
  }
  for (const userId of [left[0]!, left[699]!]) assert.equal(await storage.users.get(userId), undefined);
  assert.ok(await storage.users.get(bystander.user_id), 'users of existing connections stay');
  assert.ok(!(await storage.users.connectionNames()).includes('half-deleted-db'));
});
