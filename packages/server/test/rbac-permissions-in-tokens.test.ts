import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express, { type ErrorRequestHandler } from 'express';
import { auth, claimIncludes, requiredScopes } from 'express-oauth2-jwt-bearer';
import { Browser } from './helpers/http-login.js';
import { authorizationCode, claimsOf, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * RBAC as Auth0's tutorials set it up: an API with `enforce_policies` and "Add Permissions in the
 * Access Token" (`token_dialect: access_token_authz`), guarded by express-oauth2-jwt-bearer's
 * `claimIncludes('permissions', ...)` and `requiredScopes(...)`; permissions assigned through
 * `/api/v2/users/{id}/permissions`, or through roles (`/api/v2/roles`, `/api/v2/users/{id}/roles`).
 */
const RBAC_API = 'https://reports.example.test/';
const OPEN_API = 'https://open.example.test/';
const redirectUri = 'http://127.0.0.1:50400/callback';
const email = 'rbac-user@example.test';
const scopes = [
  { value: 'read:reports', description: 'Read reports' },
  { value: 'write:reports', description: 'Write reports' },
];

let server: TestServer;
let native: { client_id: string };
let userId: string;
let reportsApi: Server;
let reportsUrl: string;

async function permissions(method: 'POST' | 'DELETE', names: string[]) {
  const body = { permissions: names.map((permission_name) => ({ resource_server_identifier: RBAC_API, permission_name })) };
  const response = await server.management(method, `/users/${encodeURIComponent(userId)}/permissions`, body);
  assert.equal(response.status, method === 'POST' ? 201 : 204, JSON.stringify(response.body));
}

before(async () => {
  server = await startTestServer();
  for (const [identifier, rbac] of [
    [RBAC_API, { enforce_policies: true, token_dialect: 'access_token_authz' }],
    [OPEN_API, {}],
  ] as const) {
    const created = await server.management('POST', '/resource-servers', {
      identifier,
      name: identifier,
      scopes,
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
      ...rbac,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  native = await createNativeApp(server, ['http://127.0.0.1/callback']);
  userId = (await createUser(server, email)).user_id;
  await permissions('POST', ['read:reports']);

  const app = express();
  const guard = auth({ issuerBaseURL: server.issuer, audience: RBAC_API });
  app.get('/reports', guard, claimIncludes('permissions', 'read:reports'), (_req, res) => res.json({ ok: true }));
  app.post('/reports', guard, requiredScopes('write:reports'), (_req, res) => res.json({ ok: true }));
  const onError: ErrorRequestHandler = (err: { status?: number }, _req, res, _next) => res.status(err.status ?? 500).end();
  app.use(onError);
  reportsApi = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  reportsUrl = `http://127.0.0.1:${(reportsApi.address() as AddressInfo).port}/reports`;
});

after(async () => {
  reportsApi?.close();
  await server?.close();
});

async function signIn(audience: string, scope: string, as = email) {
  const { code, verifier } = await authorizationCode(
    server,
    new Browser(server.issuer),
    { client_id: native.client_id, redirect_uri: redirectUri, audience, scope },
    { email: as, password: TEST_PASSWORD },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: native.client_id,
    code,
    code_verifier: verifier,
    redirect_uri: redirectUri,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return tokens.body;
}

const callReports = async (method: 'GET' | 'POST', token: string) =>
  (await fetch(reportsUrl, { method, headers: { authorization: `Bearer ${token}` } })).status;

test('an API with enforce_policies grants only the scopes the user holds, and lists them as permissions', async () => {
  const tokens = await signIn(RBAC_API, 'openid offline_access read:reports write:reports');
  const claims = claimsOf(tokens.access_token);
  assert.equal(claims.scope, 'openid offline_access read:reports', 'write:reports is not held');
  assert.equal(tokens.scope, 'openid offline_access read:reports');
  assert.deepEqual(claims.permissions, ['read:reports']);
  assert.equal(await callReports('GET', tokens.access_token), 200);
  assert.equal(await callReports('POST', tokens.access_token), 403);
});

test('permissions are read at every issue: a refresh after a change reflects it', async () => {
  const tokens = await signIn(RBAC_API, 'openid offline_access read:reports write:reports');
  await permissions('POST', ['write:reports']);
  const granted = await tokenRequest(server, {
    grant_type: 'refresh_token',
    client_id: native.client_id,
    refresh_token: tokens.refresh_token,
  });
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  assert.deepEqual(claimsOf(granted.body.access_token).permissions, ['read:reports', 'write:reports']);
  assert.equal(await callReports('POST', granted.body.access_token), 200);

  await permissions('DELETE', ['read:reports', 'write:reports']);
  const revoked = await tokenRequest(server, {
    grant_type: 'refresh_token',
    client_id: native.client_id,
    refresh_token: granted.body.refresh_token,
  });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  const claims = claimsOf(revoked.body.access_token);
  assert.deepEqual(claims.permissions, []);
  assert.equal(claims.scope, 'openid offline_access');
  // claimIncludes reports a claim that does not hold as invalid_token: 401.
  assert.equal(await callReports('GET', revoked.body.access_token), 401);
  await permissions('POST', ['read:reports']);
});

test('without enforce_policies an API grants its scopes as asked, with no permissions claim', async () => {
  const claims = claimsOf((await signIn(OPEN_API, 'openid read:reports write:reports')).access_token);
  assert.equal(claims.scope, 'openid read:reports write:reports');
  assert.equal(claims.permissions, undefined);
});

test("machine-to-machine: the client grant's scopes are the permissions", async () => {
  const m2m = await createAppClient(server, {
    name: 'Reports job',
    app_type: 'non_interactive',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_post',
  });
  const grant = await server.management('POST', '/client-grants', {
    client_id: m2m.client_id,
    audience: RBAC_API,
    scope: ['read:reports'],
  });
  assert.equal(grant.status, 201, JSON.stringify(grant.body));
  const token = await tokenRequest(server, {
    grant_type: 'client_credentials',
    client_id: m2m.client_id,
    client_secret: m2m.client_secret!,
    audience: RBAC_API,
  });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  assert.deepEqual(claimsOf(token.body.access_token).permissions, ['read:reports']);
  assert.equal(await callReports('GET', token.body.access_token), 200);
  assert.equal(await callReports('POST', token.body.access_token), 403);
});

test('deleting the user or the API takes its permissions with it', async () => {
  const other = (await createUser(server, 'rbac-deleted@example.test')).user_id;
  const path = `/users/${encodeURIComponent(other)}/permissions`;
  assert.equal(
    (await server.management('POST', path, { permissions: [{ resource_server_identifier: RBAC_API, permission_name: 'read:reports' }] }))
      .status,
    201,
  );
  assert.equal((await server.management('DELETE', `/users/${encodeURIComponent(other)}`)).status, 204);
  assert.deepEqual(await server.ctx.storage.permissions.list(other), []);

  const doomed = await server.management('POST', '/resource-servers', {
    identifier: 'https://doomed.example.test/',
    name: 'Doomed',
    scopes,
    enforce_policies: true,
  });
  assert.equal(doomed.status, 201, JSON.stringify(doomed.body));
  const assign = { permissions: [{ resource_server_identifier: 'https://doomed.example.test/', permission_name: 'read:reports' }] };
  assert.equal((await server.management('POST', `/users/${encodeURIComponent(userId)}/permissions`, assign)).status, 201);
  assert.equal((await server.ctx.storage.permissions.list(userId, 'https://doomed.example.test/')).length, 1);
  assert.equal((await server.management('DELETE', `/resource-servers/${doomed.body.id}`)).status, 204);
  assert.deepEqual(await server.ctx.storage.permissions.list(userId, 'https://doomed.example.test/'), []);
  assert.deepEqual(await server.ctx.storage.permissions.list(userId, RBAC_API), [{ audience: RBAC_API, permission: 'read:reports' }]);
});

test('a scope taken off the API is taken from its holders, and adding it back grants nothing', async () => {
  const api = await server.management('POST', '/resource-servers', {
    identifier: 'https://shrinking.example.test/',
    name: 'Shrinking',
    scopes,
    enforce_policies: true,
  });
  assert.equal(api.status, 201, JSON.stringify(api.body));
  const path = `/users/${encodeURIComponent(userId)}/permissions`;
  const both = {
    permissions: scopes.map((s) => ({ resource_server_identifier: 'https://shrinking.example.test/', permission_name: s.value })),
  };
  assert.equal((await server.management('POST', path, both)).status, 201);
  assert.equal((await server.management('PATCH', `/resource-servers/${api.body.id}`, { scopes: [scopes[0]] })).status, 200);
  assert.deepEqual(await server.ctx.storage.permissions.list(userId, 'https://shrinking.example.test/'), [
    { audience: 'https://shrinking.example.test/', permission: 'read:reports' },
  ]);
  assert.equal((await server.management('PATCH', `/resource-servers/${api.body.id}`, { scopes })).status, 200);
  assert.deepEqual(
    (await server.ctx.storage.permissions.list(userId, 'https://shrinking.example.test/')).map((p) => p.permission),
    ['read:reports'],
  );
  // Removing works for a scope the API no longer defines, and for a long, repetitive list.
  const many = {
    permissions: Array.from({ length: 1000 }, () => ({
      resource_server_identifier: 'https://shrinking.example.test/',
      permission_name: 'read:reports',
    })),
  };
  assert.equal((await server.management('DELETE', path, many)).status, 204);
  assert.equal(
    (
      await server.management('DELETE', path, {
        permissions: [{ resource_server_identifier: 'https://shrinking.example.test/', permission_name: 'gone:scope' }],
      })
    ).status,
    204,
  );
  assert.deepEqual(await server.ctx.storage.permissions.list(userId, 'https://shrinking.example.test/'), []);
});

const refreshWith = async (refreshToken: string) => {
  const granted = await tokenRequest(server, { grant_type: 'refresh_token', client_id: native.client_id, refresh_token: refreshToken });
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  return granted.body;
};

test("a role's permissions reach the token at sign-in and on refresh; taking the role away ends them at the next refresh", async () => {
  const roleEmail = 'rbac-role-user@example.test';
  const member = (await createUser(server, roleEmail)).user_id as string;
  const role = await server.management('POST', '/roles', { name: 'Report writers', description: 'Reads and writes reports' });
  assert.equal(role.status, 200, JSON.stringify(role.body));
  const added = await server.management('POST', `/roles/${role.body.id}/permissions`, {
    permissions: scopes.map((s) => ({ resource_server_identifier: RBAC_API, permission_name: s.value })),
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const rolesPath = `/users/${encodeURIComponent(member)}/roles`;
  assert.equal((await server.management('POST', rolesPath, { roles: [role.body.id] })).status, 204);

  const tokens = await signIn(RBAC_API, 'openid offline_access read:reports write:reports', roleEmail);
  let claims = claimsOf(tokens.access_token);
  assert.deepEqual(claims.permissions, ['read:reports', 'write:reports']);
  assert.equal(claims.scope, 'openid offline_access read:reports write:reports');
  assert.equal(await callReports('GET', tokens.access_token), 200);
  assert.equal(await callReports('POST', tokens.access_token), 200);

  // Held both directly and through the role: listed once.
  await server.management('POST', `/users/${encodeURIComponent(member)}/permissions`, {
    permissions: [{ resource_server_identifier: RBAC_API, permission_name: 'read:reports' }],
  });
  const refreshed = await refreshWith(tokens.refresh_token);
  assert.deepEqual(claimsOf(refreshed.access_token).permissions, ['read:reports', 'write:reports']);
  assert.equal(await callReports('POST', refreshed.access_token), 200);

  // The role goes: only the direct permission is left at the next refresh.
  assert.equal((await server.management('DELETE', rolesPath, { roles: [role.body.id] })).status, 204);
  const withoutRole = await refreshWith(refreshed.refresh_token);
  claims = claimsOf(withoutRole.access_token);
  assert.deepEqual(claims.permissions, ['read:reports']);
  assert.equal(claims.scope, 'openid offline_access read:reports');
  assert.equal(await callReports('GET', withoutRole.access_token), 200);
  assert.equal(await callReports('POST', withoutRole.access_token), 403);

  // Given back, then the role itself deleted: gone again at the next refresh.
  assert.equal((await server.management('POST', rolesPath, { roles: [role.body.id] })).status, 204);
  const givenBack = await refreshWith(withoutRole.refresh_token);
  assert.equal(await callReports('POST', givenBack.access_token), 200);
  assert.equal((await server.management('DELETE', `/roles/${role.body.id}`)).status, 200);
  const roleDeleted = await refreshWith(givenBack.refresh_token);
  assert.deepEqual(claimsOf(roleDeleted.access_token).permissions, ['read:reports']);
  assert.equal(await callReports('POST', roleDeleted.access_token), 403);
});

test("the password grant carries the role's permissions too", async () => {
  const web = await createAppClient(server, {
    name: 'RBAC password app',
    app_type: 'regular_web',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['password'],
    callbacks: ['https://web.example.test/callback'],
  });
  const directory = await server.management('PATCH', '/tenants/settings', { default_directory: 'Username-Password-Authentication' });
  assert.equal(directory.status, 200, JSON.stringify(directory.body));
  const passwordEmail = 'rbac-password-user@example.test';
  const member = (await createUser(server, passwordEmail)).user_id as string;
  const role = await server.management('POST', '/roles', { name: 'Report readers by password' });
  const permissions = [{ resource_server_identifier: RBAC_API, permission_name: 'read:reports' }];
  assert.equal((await server.management('POST', `/roles/${role.body.id}/permissions`, { permissions })).status, 201);
  assert.equal((await server.management('POST', `/roles/${role.body.id}/users`, { users: [member] })).status, 200);
  const tokens = await tokenRequest(server, {
    grant_type: 'password',
    client_id: web.client_id,
    client_secret: web.client_secret!,
    username: passwordEmail,
    password: TEST_PASSWORD,
    audience: RBAC_API,
    scope: 'read:reports write:reports',
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  const claims = claimsOf(tokens.body.access_token);
  assert.deepEqual([claims.scope, claims.permissions], ['read:reports', ['read:reports']]);
  assert.equal(await callReports('GET', tokens.body.access_token), 200);
  assert.equal(await callReports('POST', tokens.body.access_token), 403);
});

test('a scope taken off the API is taken from the roles that held it', async () => {
  const api = await server.management('POST', '/resource-servers', {
    identifier: 'https://shrinking-roles.example.test/',
    name: 'Shrinking roles',
    scopes,
    enforce_policies: true,
  });
  assert.equal(api.status, 201, JSON.stringify(api.body));
  const role = await server.management('POST', '/roles', { name: 'Shrinking holder' });
  const both = {
    permissions: scopes.map((s) => ({ resource_server_identifier: 'https://shrinking-roles.example.test/', permission_name: s.value })),
  };
  assert.equal((await server.management('POST', `/roles/${role.body.id}/permissions`, both)).status, 201);
  assert.equal((await server.management('PATCH', `/resource-servers/${api.body.id}`, { scopes: [scopes[0]] })).status, 200);
  assert.equal((await server.management('PATCH', `/resource-servers/${api.body.id}`, { scopes })).status, 200);
  const listed = await server.management('GET', `/roles/${role.body.id}/permissions`);
  assert.deepEqual(
    listed.body.map((p: { permission_name: string }) => p.permission_name),
    ['read:reports'],
    'adding the scope back grants nothing',
  );
});
