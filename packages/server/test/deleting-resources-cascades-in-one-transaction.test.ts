import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deleteRole } from '../src/domain/roles.js';
import { deleteUser } from '../src/domain/users.js';
import { digestToken } from '../src/oauth/user-tokens.js';
import type { ChangeKind, Repositories, Storage } from '../src/storage/types.js';
import { authorizeUrl, Browser, callbackParams, pkcePair } from './helpers/http-login.js';
import { assertOAuthError, authorizationCode, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * Deleting a user, a client, an API or a connection takes what depends on it along (as Auth0 does),
 * in one transaction: a failure half-way leaves everything as it was, and no node hears of changes
 * that were rolled back.
 */
const REDIRECT = 'http://127.0.0.1:50999/callback';
const API = 'https://cascade.example.test/';

let server: TestServer;
let storage: Storage;
let app: { client_id: string };
let roleId: string;

before(async () => {
  server = await startTestServer();
  storage = server.ctx.storage;
  app = await createNativeApp(server, ['http://127.0.0.1/callback']);
  await createApi(server, API);
  const role = await server.management('POST', '/roles', { name: 'Cascade readers' });
  assert.equal(role.status, 200, JSON.stringify(role.body));
  roleId = role.body.id;
});

const FIRST_PAGE = { kind: 'offset', offset: 0, limit: 50, includeTotal: false } as const;
const rolesOf = async (userId: string) => (await storage.roles.listRolesOf(userId, FIRST_PAGE)).items.map((r) => r.id);
after(() => server?.close());

async function signIn(clientId: string, email: string): Promise<{ browser: Browser; refreshToken: string; accessToken: string }> {
  const browser = new Browser(server.issuer);
  const { code, verifier } = await authorizationCode(
    server,
    browser,
    { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid profile offline_access' },
    { email, password: TEST_PASSWORD },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return { browser, refreshToken: tokens.body.refresh_token, accessToken: tokens.body.access_token };
}

async function silentAuthorize(browser: Browser, clientId = app.client_id): Promise<URLSearchParams> {
  const url = authorizeUrl(server.issuer, {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    prompt: 'none',
  });
  return callbackParams(await browser.get(url));
}

const refresh = (clientId: string, refreshToken: string) =>
  tokenRequest(server, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });
const userinfo = (accessToken: string) => fetch(`${server.issuer}userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
const at = () => new Date(server.ctx.now()).toISOString();

/** A user signed in on `app`, with a consent, a permission on the API and a role. */
async function userWithEverything(email: string) {
  const user = await createUser(server, email);
  const signedIn = await signIn(app.client_id, email);
  await storage.consents.put({ userId: user.user_id, clientId: app.client_id, audience: API, scope: ['read:messages'], updatedAt: at() });
  const assigned = await server.management('POST', `/users/${encodeURIComponent(user.user_id)}/permissions`, {
    permissions: [{ resource_server_identifier: API, permission_name: 'read:messages' }],
  });
  assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
  const given = await server.management('POST', `/users/${encodeURIComponent(user.user_id)}/roles`, { roles: [roleId] });
  assert.equal(given.status, 204, JSON.stringify(given.body));
  assert.ok((await silentAuthorize(signedIn.browser)).get('code'), 'signed in before the deletion');
  return { user, ...signedIn };
}

test('DELETE /api/v2/users/{id} ends its sessions and takes its tokens, consents, permissions and roles', async () => {
  const { user, browser, refreshToken, accessToken } = await userWithEverything('doomed-user@example.test');
  const bystander = await userWithEverything('bystander-user@example.test');

  assert.equal((await server.management('DELETE', `/users/${encodeURIComponent(user.user_id)}`)).status, 204);

  assert.equal((await silentAuthorize(browser)).get('error'), 'login_required');
  assertOAuthError(await refresh(app.client_id, refreshToken), 403, 'invalid_grant');
  assert.equal((await userinfo(accessToken)).status, 401);
  assert.deepEqual(await storage.consents.list({ userId: user.user_id }), []);
  assert.deepEqual(await storage.permissions.list(user.user_id), []);
  assert.deepEqual(await rolesOf(user.user_id), []);
  assert.equal((await server.management('GET', `/users/${encodeURIComponent(user.user_id)}`)).status, 404);

  // Another user keeps everything.
  assert.ok((await silentAuthorize(bystander.browser)).get('code'));
  assert.equal((await refresh(app.client_id, bystander.refreshToken)).status, 200);
  assert.equal((await storage.consents.list({ userId: bystander.user.user_id })).length, 1);
  assert.equal((await storage.permissions.list(bystander.user.user_id)).length, 1);
  assert.deepEqual(await rolesOf(bystander.user.user_id), [roleId]);
});

test('DELETE /api/v2/clients/{id} takes its client grants, consents, refresh tokens and registration token', async () => {
  const doomed = await createNativeApp(server, ['http://127.0.0.1/callback']);
  const user = await createUser(server, 'client-user@example.test');
  const { refreshToken } = await signIn(doomed.client_id, user.email);
  const grant = await server.management('POST', '/client-grants', { client_id: doomed.client_id, audience: API, scope: ['read:messages'] });
  assert.equal(grant.status, 201, JSON.stringify(grant.body));
  await storage.consents.put({
    userId: user.user_id,
    clientId: doomed.client_id,
    audience: API,
    scope: ['read:messages'],
    updatedAt: at(),
  });
  await storage.consents.put({ userId: user.user_id, clientId: app.client_id, audience: API, scope: ['read:messages'], updatedAt: at() });
  await storage.registrations.putTokenDigest(doomed.client_id, 'digest');

  assert.equal((await server.management('DELETE', `/clients/${doomed.client_id}`)).status, 204);

  assert.equal(await storage.clientGrants.find(doomed.client_id, API), undefined);
  assert.deepEqual(await storage.consents.list({ clientId: doomed.client_id }), []);
  assert.equal((await storage.consents.list({ userId: user.user_id })).length, 1, 'consents to other clients stay');
  assert.ok((await storage.refreshTokens.get(digestToken(refreshToken)))?.revokedAt, 'its refresh tokens are revoked');
  assert.equal(await storage.registrations.getTokenDigest(doomed.client_id), undefined);
});

test("DELETE /api/v2/resource-servers/{id} takes its client grants and the users' and roles' permissions on it", async () => {
  const api = await createApi(server, 'https://short-lived.example.test/');
  const user = await createUser(server, 'api-user@example.test');
  assert.equal(
    (await server.management('POST', '/client-grants', { client_id: app.client_id, audience: api.identifier, scope: [] })).status,
    201,
  );
  const permissions = [
    { resource_server_identifier: api.identifier, permission_name: 'read:messages' },
    { resource_server_identifier: API, permission_name: 'read:messages' },
  ];
  assert.equal((await server.management('POST', `/users/${encodeURIComponent(user.user_id)}/permissions`, { permissions })).status, 201);
  const role = await server.management('POST', '/roles', { name: 'Short-lived API readers' });
  assert.equal((await server.management('POST', `/roles/${role.body.id}/permissions`, { permissions })).status, 201);

  assert.equal((await server.management('DELETE', `/resource-servers/${api.id}`)).status, 204);

  assert.equal(await storage.clientGrants.find(app.client_id, api.identifier), undefined);
  assert.deepEqual(await storage.permissions.list(user.user_id), [{ audience: API, permission: 'read:messages' }]);
  assert.deepEqual((await storage.roles.listPermissions(role.body.id, FIRST_PAGE)).items, [{ audience: API, permission: 'read:messages' }]);
});

test('DELETE /api/v2/roles/{id} takes its permissions and its assignments', async () => {
  const user = await createUser(server, 'role-member@example.test');
  const role = await server.management('POST', '/roles', { name: 'Doomed role' });
  const permissions = [{ resource_server_identifier: API, permission_name: 'read:messages' }];
  assert.equal((await server.management('POST', `/roles/${role.body.id}/permissions`, { permissions })).status, 201);
  assert.equal((await server.management('POST', `/roles/${role.body.id}/users`, { users: [user.user_id] })).status, 200);
  assert.deepEqual(await storage.permissions.listHeld(user.user_id), [
    { audience: API, permission: 'read:messages', role: { id: role.body.id, name: 'Doomed role' } },
  ]);

  assert.equal((await server.management('DELETE', `/roles/${role.body.id}`)).status, 200);

  assert.deepEqual(await rolesOf(user.user_id), []);
  assert.deepEqual(await storage.permissions.listHeld(user.user_id), []);
  assert.deepEqual((await storage.roles.listPermissions(role.body.id, FIRST_PAGE)).items, []);
});

test('DELETE /api/v2/resource-servers/{id} ends the refresh tokens and codes issued for it', async () => {
  const gone = 'https://gone.example.test/';
  const api = await createApi(server, gone);
  const user = await createUser(server, 'api-refresh@example.test');
  const browser = new Browser(server.issuer);
  const params = { client_id: app.client_id, redirect_uri: REDIRECT, scope: 'openid offline_access read:messages', audience: gone };
  const { code, verifier } = await authorizationCode(server, browser, params, { email: user.email, password: TEST_PASSWORD });
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  const pending = await authorizationCode(server, browser, params, { email: user.email, password: TEST_PASSWORD });

  assert.equal((await server.management('DELETE', `/resource-servers/${api.id}`)).status, 204);

  assertOAuthError(await refresh(app.client_id, tokens.body.refresh_token), 403, 'invalid_grant');
  const redeemed = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code: pending.code,
    code_verifier: pending.verifier,
    redirect_uri: REDIRECT,
  });
  assertOAuthError(redeemed, 403, 'invalid_grant');
});

test('an API created again under the same identifier does not revive the refresh tokens and consents of the deleted one', async () => {
  const reused = 'https://reused.example.test/';
  const api = await createApi(server, reused);
  const user = await createUser(server, 'api-reused@example.test');
  const browser = new Browser(server.issuer);
  const params = { client_id: app.client_id, redirect_uri: REDIRECT, scope: 'openid offline_access read:messages', audience: reused };
  const { code, verifier } = await authorizationCode(server, browser, params, { email: user.email, password: TEST_PASSWORD });
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  const other = await signIn(app.client_id, user.email);
  await storage.consents.put({
    userId: user.user_id,
    clientId: app.client_id,
    audience: reused,
    scope: ['read:messages'],
    updatedAt: at(),
  });

  assert.equal((await server.management('DELETE', `/resource-servers/${api.id}`)).status, 204);
  await createApi(server, reused);

  assertOAuthError(await refresh(app.client_id, tokens.body.refresh_token), 403, 'invalid_grant');
  assert.deepEqual(await storage.consents.list({ audience: reused }), []);
  assert.equal((await refresh(app.client_id, other.refreshToken)).status, 200, 'tokens for other APIs stay');
});

test('DELETE /api/v2/connections/{id} deletes its users with their cascades', async () => {
  const created = await server.management('POST', '/connections', {
    name: 'doomed-db',
    strategy: 'auth0',
    enabled_clients: [app.client_id],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const users = [];
  for (const email of ['one@doomed.example.test', 'two@doomed.example.test']) {
    const user = await createUser(server, email, { connection: 'doomed-db' });
    await storage.consents.put({ userId: user.user_id, clientId: app.client_id, audience: API, scope: [], updatedAt: at() });
    users.push(user);
  }
  const kept = await createUser(server, 'kept@example.test');

  assert.equal((await server.management('DELETE', `/connections/${created.body.id}`)).status, 204);

  for (const user of users) {
    assert.equal(await storage.users.get(user.user_id), undefined);
    assert.deepEqual(await storage.consents.list({ userId: user.user_id }), []);
  }
  assert.ok(await storage.users.get(kept.user_id));
});

/** Runs `fn` with every repository of the transaction, one of them replaced. */
function withRepository<K extends keyof Repositories>(name: K, replacement: Repositories[K]): Pick<Storage, 'transaction'> {
  return { transaction: (fn) => storage.transaction((tx) => fn({ ...tx, [name]: replacement })) };
}

test('a failure half-way through deleting a user rolls the whole deletion back', async () => {
  const { user, browser, refreshToken, accessToken } = await userWithEverything('survivor@example.test');
  const failing = withRepository('permissions', {
    ...storage.permissions,
    removeAllOfMany: async () => {
      throw new Error('disk full');
    },
  } as Repositories['permissions']);

  await assert.rejects(deleteUser(failing, user.user_id, new Date(server.ctx.now())), /disk full/);

  // The sessions, tokens and consents deleted before the failure are all back.
  assert.ok(await storage.users.get(user.user_id));
  assert.ok((await silentAuthorize(browser)).get('code'));
  assert.equal((await userinfo(accessToken)).status, 200);
  assert.equal((await refresh(app.client_id, refreshToken)).status, 200);
  assert.equal((await storage.consents.list({ userId: user.user_id })).length, 1);
  assert.equal((await storage.permissions.list(user.user_id)).length, 1);
});

test('a failure half-way through deleting a role rolls the whole deletion back', async () => {
  const user = await createUser(server, 'role-survivor@example.test');
  const role = await server.management('POST', '/roles', { name: 'Surviving role' });
  const permissions = [{ resource_server_identifier: API, permission_name: 'read:messages' }];
  assert.equal((await server.management('POST', `/roles/${role.body.id}/permissions`, { permissions })).status, 201);
  assert.equal((await server.management('POST', `/roles/${role.body.id}/users`, { users: [user.user_id] })).status, 200);
  // The transaction's own roles repository (its other methods write through the transaction), failing at the last step.
  const failing: Pick<Storage, 'transaction'> = {
    transaction: (fn) =>
      storage.transaction((tx) => {
        const roles: Repositories['roles'] = Object.create(tx.roles);
        roles.removeAllMembersOf = async () => {
          throw new Error('disk full');
        };
        return fn({ ...tx, roles });
      }),
  };

  await assert.rejects(deleteRole(failing, role.body.id), /disk full/);

  assert.ok(await storage.roles.get(role.body.id));
  assert.equal((await storage.roles.listPermissions(role.body.id, FIRST_PAGE)).items.length, 1);
  assert.deepEqual(await rolesOf(user.user_id), [role.body.id]);
});

test('change notices go out after the commit, and not at all after a rollback', async () => {
  const heard: string[] = [];
  storage.changes.subscribe((kind: ChangeKind | '*', key: string) => heard.push(`${kind} ${key}`));
  const { body: template } = await server.management('GET', `/clients/${app.client_id}`);

  await assert.rejects(
    storage.transaction(async (tx) => {
      assert.equal(await tx.tenant.create({ ...(await tx.tenant.get())! }), false);
      assert.equal(await tx.clients.insert({ client: { ...template, client_id: 'rolled-back-client' }, secretDigest: 'd' }), true);
      await tx.connections.insert({
        ...(await tx.connections.getByName('Username-Password-Authentication'))!,
        id: 'con_rolledback',
        name: 'rolled-back',
      });
      throw new Error('changed my mind');
    }),
    /changed my mind/,
  );
  assert.equal(await storage.clients.get('rolled-back-client'), undefined);
  assert.equal(await storage.connections.getByName('rolled-back'), undefined);

  let heardInside: string[] = [];
  const cached = (await server.ctx.lookups.client(app.client_id))!.client;
  await storage.transaction(async (tx) => {
    await tx.clients.insert({ client: { ...template, client_id: 'committed-client' }, secretDigest: 'd' });
    await tx.clients.update({ ...cached, name: 'renamed in a transaction' });
    heardInside = [...heard];
    // The cache keeps the committed state until the commit.
    assert.equal((await server.ctx.lookups.client(app.client_id))?.client.name, cached.name);
  });
  assert.ok(!heardInside.some((h) => h.includes('committed-client')), 'nothing announced before the commit');
  // Notices of one node reach it in order (PostgreSQL NOTIFY included), so once the commit's notice is
  // here, a rolled-back one would have been too.
  while (!heard.includes('client committed-client')) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    heard.filter((h) => h.includes('rolled-back')),
    [],
  );
  assert.ok(await storage.clients.get('committed-client'));
  // The in-process cache was dropped at the commit.
  assert.equal((await server.ctx.lookups.client(app.client_id))?.client.name, 'renamed in a transaction');
});

test('inside a transaction, a taken name or a reached cap answers false and the transaction goes on', async () => {
  const existing = await createUser(server, 'taken@example.test');
  const record = (await storage.users.get(existing.user_id))!;
  const { body: template } = await server.management('GET', `/clients/${app.client_id}`);
  const registered = (id: string) => ({
    client: { ...template, client_id: id, registration_source: 'dynamic_registration' },
    secretDigest: 'd',
  });
  const count = await storage.clients.countRegistered();
  await storage.transaction(async (tx) => {
    // PostgreSQL aborts a transaction on any error: the unique violation must not take the rest down.
    assert.equal(await tx.users.insert({ ...record, user: { ...record.user, user_id: 'auth0|duplicate' } }), false);
    assert.equal(await tx.clients.insert(registered('over-the-cap'), { maxRegistered: count }), false);
    assert.equal(await tx.clients.insert(registered('under-the-cap'), { maxRegistered: count + 1 }), true);
  });
  assert.equal(await storage.users.get('auth0|duplicate'), undefined);
  assert.equal(await storage.clients.get('over-the-cap'), undefined);
  assert.ok(await storage.clients.get('under-the-cap'));
  assert.equal(await storage.clients.countRegistered(), count + 1);
});
