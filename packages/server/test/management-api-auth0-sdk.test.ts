/**
 * The Management API as Auth0's own v7 Node SDK (`auth0` on npm) sees it, over HTTPS, unchanged:
 * the SDK builds `https://${domain}/api/v2`, fetches its own client_credentials token for the
 * audience `https://${domain}/api/v2/`, sends `include_totals=true` on lists, URL-encodes ids and
 * turns non-2xx answers into ManagementError subclasses carrying our `{statusCode, error, message,
 * errorCode}` body.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Management, ManagementClient, ManagementError } from 'auth0';
import { startTestServer, type TestServer, trustTestCa } from './helpers/server.js';

let server: TestServer;
let management: ManagementClient;
let domain: string;
/** Every request the SDK made, so tests can check what went over the wire. */
const sent: Array<{ method: string; url: string; body: string | undefined }> = [];

const recordingFetch: typeof fetch = async (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  sent.push({ method: init?.method ?? 'GET', url, body: typeof init?.body === 'string' ? init.body : undefined });
  return fetch(input, init);
};

before(async () => {
  trustTestCa();
  server = await startTestServer({ https: true });
  // `host` keeps the port: the SDK only prefixes `https://`, so 127.0.0.1:PORT is a valid domain.
  domain = new URL(server.issuer).host;
  management = new ManagementClient({
    domain,
    clientId: server.admin.clientId,
    clientSecret: server.admin.clientSecret,
    fetch: recordingFetch,
  });
});
after(() => server.close());

/** Runs `call`, expects the SDK to throw, and returns the error with its parsed body. */
async function rejection(call: () => Promise<unknown>): Promise<ManagementError & { body: Record<string, unknown> }> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof ManagementError, `expected a ManagementError, got ${String(err)}`);
    return err as ManagementError & { body: Record<string, unknown> };
  }
  assert.fail('expected the call to be rejected');
}

/** A client_credentials token request straight to /oauth/token, as any M2M client would send it. */
async function clientCredentials(clientId: string, clientSecret: string, audience?: string, scope?: string) {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      ...(audience ? { audience } : {}),
      ...(scope ? { scope } : {}),
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

test('the SDK obtains its own client_credentials token for https://HOST/api/v2/ and reuses it', async () => {
  const before = sent.length;
  const first = await management.clients.list();
  await management.resourceServers.list();
  const mine = sent.slice(before);

  const tokenRequests = mine.filter((r) => r.url === `${server.issuer}oauth/token`);
  assert.equal(tokenRequests.length, 1, 'one token for both calls');
  const form = new URLSearchParams(tokenRequests[0]!.body);
  assert.equal(form.get('grant_type'), 'client_credentials');
  assert.equal(form.get('client_id'), server.admin.clientId);
  assert.equal(form.get('audience'), `https://${domain}/api/v2/`);
  assert.equal(form.get('audience'), `${server.issuer}api/v2/`, 'the audience the SDK derives is the one latchkey serves');

  const apiCalls = mine.filter((r) => r.url.startsWith(`${server.issuer}api/v2/`));
  assert.deepEqual(
    apiCalls.map((r) => new URL(r.url).pathname),
    ['/api/v2/clients', '/api/v2/resource-servers'],
  );
  assert.equal(new URL(apiCalls[0]!.url).searchParams.get('include_totals'), 'true');
  assert.ok(
    first.data.some((c) => c.client_id === server.admin.clientId),
    'the admin client is listed',
  );
});

test('clients: create, get, list, update, rotate the secret, delete', async () => {
  const created = await management.clients.create({
    name: 'SDK web app',
    app_type: 'regular_web',
    callbacks: ['https://app.example/callback'],
    allowed_logout_urls: ['https://app.example/'],
  });
  const clientId = created.client_id!;
  assert.match(clientId, /^[A-Za-z0-9]{16,}$/);
  assert.equal(created.name, 'SDK web app');
  assert.equal(created.app_type, 'regular_web');
  assert.ok(created.client_secret, 'the secret is shown once, at creation');

  const fetched = await management.clients.get(clientId);
  assert.deepEqual(fetched.callbacks, ['https://app.example/callback']);
  assert.equal(fetched.client_secret, undefined, 'only a digest is stored, so GET cannot show it');

  const listed = await management.clients.list({ per_page: 100 });
  assert.ok(listed.data.some((c) => c.client_id === clientId));
  const totals = listed.response as { total?: number; clients?: unknown[] };
  assert.equal(totals.total, listed.data.length, 'include_totals answers with the total');

  const updated = await management.clients.update(clientId, { name: 'SDK web app (renamed)', callbacks: ['https://app.example/cb2'] });
  assert.equal(updated.name, 'SDK web app (renamed)');
  assert.deepEqual((await management.clients.get(clientId)).callbacks, ['https://app.example/cb2']);

  const rotated = await management.clients.rotateSecret(clientId);
  assert.ok(rotated.client_secret);
  assert.notEqual(rotated.client_secret, created.client_secret);
  const withOld = await clientCredentials(clientId, created.client_secret!);
  assert.equal(withOld.status, 401);
  assert.equal(withOld.body.error, 'invalid_client', 'the old secret stops working');
  const withNew = await clientCredentials(clientId, rotated.client_secret!);
  assert.equal(withNew.body.error, 'access_denied', 'the new secret authenticates (no API granted yet)');

  await management.clients.delete(clientId);
  const gone = await rejection(() => management.clients.get(clientId));
  assert.ok(gone instanceof Management.NotFoundError);
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.body.errorCode, 'inexistent_client');
});

test('resource servers: create, get, list, update, delete', async () => {
  const created = await management.resourceServers.create({
    name: 'SDK API',
    identifier: 'https://sdk-api.example/',
    scopes: [{ value: 'read:things', description: 'Read things' }],
    token_lifetime: 600,
  });
  assert.ok(created.id);
  assert.equal(created.identifier, 'https://sdk-api.example/');
  assert.equal(created.signing_alg, 'RS256');
  assert.equal(created.token_lifetime, 600);

  assert.equal((await management.resourceServers.get(created.id!)).name, 'SDK API');
  const listed = await management.resourceServers.list();
  assert.deepEqual(listed.data.map((rs) => rs.identifier).sort(), [`${server.issuer}api/v2/`, 'https://sdk-api.example/'].sort());

  const updated = await management.resourceServers.update(created.id!, {
    name: 'SDK API v2',
    scopes: [{ value: 'read:things' }, { value: 'write:things' }],
  });
  assert.equal(updated.name, 'SDK API v2');
  assert.deepEqual(
    updated.scopes?.map((s) => s.value),
    ['read:things', 'write:things'],
  );

  await management.resourceServers.delete(created.id!);
  const gone = await rejection(() => management.resourceServers.get(created.id!));
  assert.equal(gone.statusCode, 404);
});

test('client grants: create, list by client, update scope, delete, and tokens follow them', async () => {
  const api = await management.resourceServers.create({
    name: 'Granted API',
    identifier: 'https://granted.example/',
    scopes: [{ value: 'read:things' }, { value: 'write:things' }],
  });
  const client = await management.clients.create({ name: 'SDK machine', app_type: 'non_interactive' });
  const clientId = client.client_id!;

  const grant = await management.clientGrants.create({ client_id: clientId, audience: api.identifier!, scope: ['read:things'] });
  assert.match(grant.id!, /^cgr_/);
  assert.deepEqual(grant.scope, ['read:things']);

  const listed = await management.clientGrants.list({ client_id: clientId });
  assert.deepEqual(
    listed.data.map((g) => g.id),
    [grant.id],
  );

  const read = await clientCredentials(clientId, client.client_secret!, api.identifier!);
  assert.equal(read.status, 200);
  assert.equal(read.body.scope, 'read:things');

  const updated = await management.clientGrants.update(grant.id!, { scope: ['read:things', 'write:things'] });
  assert.deepEqual(updated.scope, ['read:things', 'write:things']);
  const both = await clientCredentials(clientId, client.client_secret!, api.identifier!);
  assert.equal(both.body.scope, 'read:things write:things');

  await management.clientGrants.delete(grant.id!);
  assert.deepEqual((await management.clientGrants.list({ client_id: clientId })).data, []);
  const denied = await clientCredentials(clientId, client.client_secret!, api.identifier!);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error, 'access_denied');

  await management.clients.delete(clientId);
  await management.resourceServers.delete(api.id!);
});

test('users: create with a password, get by an auth0|... id, update (blocked too), delete', async () => {
  const created = await management.users.create({
    connection: 'Username-Password-Authentication',
    email: 'ada@example.com',
    password: 'Correct-Horse-Battery-9',
    given_name: 'Ada',
    user_metadata: { theme: 'dark' },
  });
  const userId = created.user_id as string;
  assert.match(userId, /^auth0\|/);
  assert.equal(created.email, 'ada@example.com');
  assert.equal(created.blocked, false);
  assert.equal((created as { password?: string }).password, undefined, 'the password is never echoed');
  assert.deepEqual(
    created.identities?.map((i) => [i.connection, i.provider]),
    [['Username-Password-Authentication', 'auth0']],
  );

  const before = sent.length;
  const fetched = await management.users.get(userId);
  assert.equal(fetched.user_id, userId);
  assert.deepEqual(fetched.user_metadata, { theme: 'dark' });
  const getUrl = sent.slice(before).find((r) => r.url.includes('/api/v2/users/'))!.url;
  assert.ok(getUrl.includes(`/users/${encodeURIComponent(userId)}`) && getUrl.includes('auth0%7C'), 'the SDK encodes the |');

  const updated = await management.users.update(userId, {
    blocked: true,
    name: 'Ada Lovelace',
    user_metadata: { language: 'en' },
  });
  assert.equal(updated.blocked, true);
  assert.equal(updated.name, 'Ada Lovelace');
  assert.deepEqual(updated.user_metadata, { theme: 'dark', language: 'en' }, 'metadata merges one level deep');
  assert.equal((await management.users.get(userId)).blocked, true);

  await management.users.update(userId, { blocked: false });
  assert.equal((await management.users.get(userId)).blocked, false);

  await management.users.delete(userId);
  const gone = await rejection(() => management.users.get(userId));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.body.errorCode, 'inexistent_user');
  await management.users.delete(userId); // Auth0 answers 204 for an absent user too: no throw
});

test('users search: q (Lucene subset), sort and include_totals through the SDK; unsupported queries are 400', async () => {
  const made = [];
  for (const [email, name] of [
    ['search-zoe@example.com', 'Zoe'],
    ['search-yan@example.com', 'Yan'],
    ['other-xia@example.com', 'Xia'],
  ]) {
    made.push(
      await management.users.create({ connection: 'Username-Password-Authentication', email, password: 'Correct-Horse-Battery-9', name }),
    );
  }
  const found = await management.users.list({ q: 'email:search-*', search_engine: 'v3', sort: 'name:1', per_page: 10 });
  assert.deepEqual(
    found.data.map((u) => u.name),
    ['Yan', 'Zoe'],
  );
  assert.equal((found.response as { total?: number }).total, 2);
  const exact = await management.users.list({ q: 'email:"other-xia@example.com"' });
  assert.deepEqual(
    exact.data.map((u) => u.user_id),
    [made[2]!.user_id],
  );
  const paged = await management.users.list({ q: 'email:search-* OR email:other-*', sort: 'name:-1', per_page: 1, page: 1 });
  assert.deepEqual(
    paged.data.map((u) => u.name),
    ['Yan'],
  );
  const refused = await rejection(() => management.users.list({ q: 'name:Zoe~' }));
  assert.equal(refused.statusCode, 400);
  assert.equal(refused.body.errorCode, 'invalid_query_string');
  for (const user of made) await management.users.delete(user.user_id as string);
});

test('list filters: clients by app_type and is_first_party, resource servers by identifiers', async () => {
  const native = await management.clients.create({ name: 'Filter native', app_type: 'native', token_endpoint_auth_method: 'none' });
  const spa = await management.clients.create({
    name: 'Filter SPA',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    is_first_party: false,
  });
  const names = async (request: Parameters<typeof management.clients.list>[0]) =>
    (await management.clients.list({ per_page: 100, ...request })).data
      .map((c) => c.name)
      .filter((n) => n?.startsWith('Filter '))
      .sort();
  assert.deepEqual(await names({ app_type: 'native' }), ['Filter native']);
  assert.deepEqual(await names({ app_type: 'native,spa' }), ['Filter SPA', 'Filter native']);
  assert.deepEqual(await names({ is_first_party: false }), ['Filter SPA']);
  assert.deepEqual(await names({ app_type: 'spa', is_first_party: true }), []);
  assert.deepEqual(await names({ is_global: true }), [], 'only the bootstrap admin client stands for the global client');
  const global = (await management.clients.list({ is_global: true })).data;
  assert.deepEqual(
    global.map((c) => [c.client_id, c.global]),
    [[server.admin.clientId, true]],
  );
  const regular = (await management.clients.list({ is_global: false, per_page: 100 })).data;
  assert.ok(!regular.some((c) => c.client_id === server.admin.clientId), 'is_global=false leaves the admin client out');

  const apis = await Promise.all(
    ['https://filter-a.example/', 'https://filter-b.example/', 'https://filter-c.example/'].map((identifier) =>
      management.resourceServers.create({ name: identifier, identifier }),
    ),
  );
  const listed = await management.resourceServers.list({ identifiers: ['https://filter-a.example/', 'https://filter-c.example/'] });
  assert.deepEqual(listed.data.map((rs) => rs.identifier).sort(), ['https://filter-a.example/', 'https://filter-c.example/']);
  assert.deepEqual(
    (await management.resourceServers.list({ identifiers: 'https://filter-b.example/' })).data.map((rs) => rs.identifier),
    ['https://filter-b.example/'],
  );
  for (const api of apis) await management.resourceServers.delete(api.id as string);
  for (const client of [native, spa]) await management.clients.delete(client.client_id as string);
});

test('users by email: an exact, case-insensitive match across connections, with field selection', async () => {
  const created = await management.users.create({
    connection: 'Username-Password-Authentication',
    email: 'Grace.Hopper@Example.com',
    password: 'Correct-Horse-Battery-9',
  });
  const found = await management.users.listUsersByEmail({ email: 'grace.hopper@example.com' });
  assert.deepEqual(
    found.map((u) => u.user_id),
    [created.user_id],
  );
  const projected = await management.users.listUsersByEmail({
    email: 'GRACE.HOPPER@example.com',
    fields: 'user_id,email',
    include_fields: true,
  });
  assert.deepEqual(projected, [{ user_id: created.user_id, email: created.email }]);
  assert.deepEqual(await management.users.listUsersByEmail({ email: 'grace@example.com' }), [], 'no prefix or partial match');
  await management.users.delete(created.user_id as string);
});

test('user permissions (RBAC): assign, list with names and descriptions, remove; undefined ones refused', async () => {
  const api = await management.resourceServers.create({
    name: 'Reports API',
    identifier: 'https://reports.example/',
    scopes: [
      { value: 'read:reports', description: 'Read reports' },
      { value: 'write:reports', description: 'Write reports' },
    ],
    enforce_policies: true,
    token_dialect: 'access_token_authz',
  });
  const user = await management.users.create({
    connection: 'Username-Password-Authentication',
    email: 'rbac@example.com',
    password: 'Correct-Horse-Battery-9',
  });
  const id = user.user_id as string;
  const permission = (permission_name: string) => ({ resource_server_identifier: api.identifier as string, permission_name });

  await management.users.permissions.create(id, { permissions: [permission('read:reports'), permission('write:reports')] });
  await management.users.permissions.create(id, { permissions: [permission('read:reports')] }); // already held: no change
  const listed = await management.users.permissions.list(id);
  assert.deepEqual(
    listed.data.map((p) => [p.permission_name, p.description, p.resource_server_name, p.resource_server_identifier]),
    [
      ['read:reports', 'Read reports', 'Reports API', 'https://reports.example/'],
      ['write:reports', 'Write reports', 'Reports API', 'https://reports.example/'],
    ],
  );
  await management.users.permissions.delete(id, { permissions: [permission('write:reports')] });
  assert.deepEqual(
    (await management.users.permissions.list(id)).data.map((p) => p.permission_name),
    ['read:reports'],
  );

  const undefinedScope = await rejection(() => management.users.permissions.create(id, { permissions: [permission('delete:everything')] }));
  assert.equal(undefinedScope.statusCode, 400);
  const unknownApi = await rejection(() =>
    management.users.permissions.create(id, {
      permissions: [{ resource_server_identifier: 'https://nowhere.example/', permission_name: 'read:reports' }],
    }),
  );
  assert.equal(unknownApi.statusCode, 404);
  const unknownUser = await rejection(() => management.users.permissions.list('auth0|000000000000000000000000'));
  assert.equal(unknownUser.body.errorCode, 'inexistent_user');
  await management.users.delete(id);
  await management.resourceServers.delete(api.id as string);
});

test('connections: create (strategy auth0), get, update, delete', async () => {
  const client = await management.clients.create({ name: 'Connection user', app_type: 'spa' });
  const created = await management.connections.create({
    name: 'sdk-database',
    strategy: 'auth0',
    options: { passwordPolicy: 'fair', requires_username: true },
    enabled_clients: [client.client_id!],
  });
  assert.match(created.id!, /^con_/);
  assert.equal(created.strategy, 'auth0');
  assert.deepEqual(created.enabled_clients, [client.client_id]);
  assert.equal(created.options?.requires_username, true);

  const fetched = await management.connections.get(created.id!);
  assert.equal(fetched.name, 'sdk-database');
  assert.deepEqual(fetched.realms, ['sdk-database']);

  const updated = await management.connections.update(created.id!, {
    options: { passwordPolicy: 'good' },
    enabled_clients: [],
  });
  assert.deepEqual(updated.enabled_clients, []);
  assert.deepEqual(updated.options, { passwordPolicy: 'good' }, 'options are replaced as a whole, as Auth0 does');
  assert.deepEqual(
    (await management.connections.list({ name: 'sdk-database' })).data.map((c) => c.id),
    [created.id],
  );

  await management.connections.delete(created.id!);
  const gone = await rejection(() => management.connections.get(created.id!));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.body.errorCode, 'inexistent_connection');
  await management.clients.delete(client.client_id!);
});

test('tenant settings: read and update', async () => {
  const updated = await management.tenants.settings.update({ friendly_name: 'SDK tenant' });
  assert.equal(updated.friendly_name, 'SDK tenant');
  assert.equal((await management.tenants.settings.get()).friendly_name, 'SDK tenant');
});

test('users page with per_page and include_totals: every user exactly once, totals right', async () => {
  const created = new Set<string>();
  for (let i = 0; i < 7; i++) {
    const user = await management.users.create({
      connection: 'Username-Password-Authentication',
      email: `pager${i}@example.com`,
      password: 'Correct-Horse-Battery-9',
    });
    created.add(user.user_id as string);
  }

  let page = await management.users.list({ per_page: 3, include_totals: true });
  const total = (page.response as { total: number }).total;
  assert.ok(total >= 7);
  const seen: string[] = [];
  const sizes: number[] = [];
  for (let index = 0; ; index++) {
    const body = page.response as { start: number; limit: number; length: number; total: number };
    assert.equal(body.start, index * 3);
    assert.equal(body.limit, 3);
    assert.equal(body.total, total);
    assert.equal(body.length, page.data.length);
    sizes.push(page.data.length);
    seen.push(...page.data.map((u) => u.user_id as string));
    if (!page.hasNextPage()) break;
    page = await page.getNextPage();
  }
  assert.equal(seen.length, total, 'the pages together hold the total');
  assert.equal(new Set(seen).size, seen.length, 'no user appears twice');
  for (const id of created) assert.ok(seen.includes(id), `${id} is on some page`);
  assert.deepEqual(
    sizes.slice(0, -1),
    sizes.slice(0, -1).map(() => 3),
    'every page but the last is full',
  );

  // The SDK's async iterator walks the same pages.
  const iterated: string[] = [];
  for await (const user of await management.users.list({ per_page: 3 })) iterated.push(user.user_id as string);
  assert.deepEqual(iterated, seen);

  for (const id of created) await management.users.delete(id);
});

test('connections and client grants page by checkpoint (from/take): each exactly once', async () => {
  const names = ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'];
  const ids = [];
  for (const name of names) ids.push((await management.connections.create({ name, strategy: 'auth0' })).id!);

  let page = await management.connections.list({ take: 2 });
  const seen: string[] = [];
  let pages = 1;
  assert.equal(page.data.length, 2);
  assert.ok((page.response as { next?: string }).next, 'a full page comes with a checkpoint');
  seen.push(...page.data.map((c) => c.id!));
  while (page.hasNextPage()) {
    page = await page.getNextPage();
    pages++;
    seen.push(...page.data.map((c) => c.id!));
  }
  // Username-Password-Authentication plus the five made here.
  assert.equal(seen.length, 6);
  assert.equal(new Set(seen).size, 6, 'no connection appears twice');
  for (const id of ids) assert.ok(seen.includes(id));
  assert.ok(pages >= 3);

  const api = await management.resourceServers.create({ name: 'Paged API', identifier: 'https://paged.example/' });
  const grantIds = new Set<string>();
  const clientIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    const client = await management.clients.create({ name: `paged ${i}`, app_type: 'non_interactive' });
    clientIds.push(client.client_id!);
    grantIds.add((await management.clientGrants.create({ client_id: client.client_id!, audience: api.identifier!, scope: [] })).id!);
  }
  const grants: string[] = [];
  for await (const grant of await management.clientGrants.list({ audience: api.identifier!, take: 3 })) grants.push(grant.id!);
  assert.equal(grants.length, 4);
  assert.deepEqual(new Set(grants), grantIds);

  for (const id of ids) await management.connections.delete(id);
  for (const id of clientIds) await management.clients.delete(id);
  await management.resourceServers.delete(api.id!);
});

test('a token without the scope gets 403 insufficient_scope; one with it still works', async () => {
  const narrow = new ManagementClient({ domain, token: await server.managementToken('read:clients') });
  const clients = await narrow.clients.list();
  assert.ok(clients.data.length >= 1, 'read:clients is enough to list clients');

  const forbidden = await rejection(() => narrow.users.list());
  assert.ok(forbidden instanceof Management.ForbiddenError);
  assert.equal(forbidden.statusCode, 403);
  assert.equal(forbidden.body.errorCode, 'insufficient_scope');
  assert.equal(forbidden.body.statusCode, 403);
  assert.equal(forbidden.body.error, 'Forbidden');
  assert.match(String(forbidden.body.message), /read:users/);

  const cannotCreate = await rejection(() => narrow.clients.create({ name: 'nope' }));
  assert.equal(cannotCreate.statusCode, 403);
  assert.equal(cannotCreate.body.errorCode, 'insufficient_scope');
});

test('a garbage token gets 401 invalid_token', async () => {
  const bogus = new ManagementClient({ domain, token: 'not-a-jwt' });
  const error = await rejection(() => bogus.clients.list());
  assert.ok(error instanceof Management.UnauthorizedError);
  assert.equal(error.statusCode, 401);
  assert.equal(error.body.errorCode, 'invalid_token');
});

test('an unknown user is a 404 with errorCode inexistent_user', async () => {
  const error = await rejection(() => management.users.get('auth0|000000000000000000000000'));
  assert.ok(error instanceof Management.NotFoundError);
  assert.equal(error.statusCode, 404);
  assert.deepEqual(error.body, {
    statusCode: 404,
    error: 'Not Found',
    message: 'The user does not exist.',
    errorCode: 'inexistent_user',
  });
});
