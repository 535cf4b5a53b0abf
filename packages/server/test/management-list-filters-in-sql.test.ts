import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

/**
 * The Management API's list filters run as SQL (migration 0015): clients by app_type and
 * is_first_party, resource servers by identifiers, connections by strategy and name, client grants
 * by audience and client_id; each with totals and with either kind of paging.
 */
let server: TestServer;
const names = (body: Array<{ name: string }>) =>
  body
    .map((c) => c.name)
    .filter((n) => n.startsWith('F-'))
    .sort();

before(async () => {
  server = await startTestServer();
  for (const [name, extra] of [
    ['F-spa-1', { app_type: 'spa', callbacks: ['http://127.0.0.1:3000/'] }],
    ['F-spa-3p', { app_type: 'spa', callbacks: ['http://127.0.0.1:3000/'], is_first_party: false }],
    ['F-native', { app_type: 'native', callbacks: ['http://127.0.0.1/cb'] }],
    ['F-m2m', { app_type: 'non_interactive', grant_types: ['client_credentials'] }],
    ['F-none', {}],
  ] as const) {
    const created = await server.management('POST', '/clients', { name, ...extra });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
});
after(() => server?.close());

test(`clients by app_type and is_first_party (${backend})`, async () => {
  const list = async (query: string) => {
    const response = await server.management('GET', `/clients?${query}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  };
  assert.deepEqual(names(await list('app_type=spa')), ['F-spa-1', 'F-spa-3p']);
  assert.deepEqual(names(await list('app_type=spa,native')), ['F-native', 'F-spa-1', 'F-spa-3p']);
  assert.deepEqual(names(await list('app_type=spa&is_first_party=false')), ['F-spa-3p']);
  assert.deepEqual(names(await list('app_type=spa&is_first_party=true')), ['F-spa-1']);
  assert.deepEqual(names(await list('is_first_party=false')), ['F-spa-3p']);
  assert.deepEqual(names(await list('is_global=true')), [], 'only the bootstrap admin client is listed as global');
  const global = await list('is_global=true&include_totals=true');
  assert.deepEqual([global.total, global.clients[0].client_id, global.clients[0].global], [1, server.admin.clientId, true]);
  const regular = await list('is_global=false&per_page=100&include_totals=true');
  assert.ok(!regular.clients.some((c: { client_id: string }) => c.client_id === server.admin.clientId));
  assert.equal(regular.total, regular.clients.length);
  const { body: all } = await server.management('GET', '/clients?per_page=100');
  const none = all
    .filter((c: { app_type?: string | null }) => !c.app_type)
    .map((c: { name: string }) => c.name)
    .filter((n: string) => n.startsWith('F-'));
  assert.deepEqual(names(await list('app_type=')), none, 'clients without an app type are listed under app_type=');
  const paged = await list('app_type=spa,native&per_page=2&page=1&include_totals=true');
  assert.equal(paged.total, 3);
  assert.equal(paged.clients.length, 1);
  const first = await list('app_type=spa,native&take=2');
  const second = await list(`app_type=spa,native&take=2&from=${first.next}`);
  assert.deepEqual(
    names([...first.clients, ...second.clients]),
    ['F-native', 'F-spa-1', 'F-spa-3p'],
    'checkpoint paging works with filters too',
  );
  assert.equal(second.next, undefined);
});

test(`a client's filtered fields follow its updates (${backend})`, async () => {
  const {
    body: [spa],
  } = await server.management('GET', '/clients?app_type=spa&is_first_party=false');
  const patched = await server.management('PATCH', `/clients/${spa.client_id}`, { app_type: 'regular_web', is_first_party: true });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(names((await server.management('GET', '/clients?app_type=regular_web')).body), ['F-spa-3p']);
  assert.deepEqual(names((await server.management('GET', '/clients?is_first_party=false')).body), []);
});

test(`resource servers by identifiers, connections by strategy, grants by audience (${backend})`, async () => {
  for (const identifier of ['https://a.test/', 'https://b.test/', 'https://c.test/']) {
    assert.equal((await server.management('POST', '/resource-servers', { name: identifier, identifier })).status, 201);
  }
  const byIds = await server.management(
    'GET',
    '/resource-servers?identifiers=https://a.test/&identifiers=https://c.test/&include_totals=true',
  );
  assert.equal(byIds.status, 200, JSON.stringify(byIds.body));
  assert.deepEqual(
    byIds.body.resource_servers.map((r: { identifier: string }) => r.identifier),
    ['https://a.test/', 'https://c.test/'],
  );
  assert.equal(byIds.body.total, 2);

  const databases = await server.management('GET', '/connections?strategy=auth0');
  assert.deepEqual(
    databases.body.map((c: { name: string }) => c.name),
    ['Username-Password-Authentication'],
  );
  assert.deepEqual((await server.management('GET', '/connections?strategy=oidc')).body, []);

  const {
    body: [m2m],
  } = await server.management('GET', '/clients?app_type=non_interactive');
  for (const audience of ['https://a.test/', 'https://b.test/']) {
    assert.equal((await server.management('POST', '/client-grants', { client_id: m2m.client_id, audience, scope: [] })).status, 201);
  }
  const grants = await server.management('GET', '/client-grants?audience=https://b.test/');
  assert.deepEqual(
    grants.body.map((g: { client_id: string }) => g.client_id),
    [m2m.client_id],
  );
  const own = await server.management('GET', `/client-grants?client_id=${m2m.client_id}`);
  assert.deepEqual(
    own.body
      .map((g: { audience: string }) => g.audience)
      .filter((a: string) => a.endsWith('.test/'))
      .sort(),
    ['https://a.test/', 'https://b.test/'],
  );
});
