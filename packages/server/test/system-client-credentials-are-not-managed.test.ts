/**
 * The bootstrap admin client holds every Management scope. A token with only `update:clients` must
 * not be able to set or rotate its secret (which would hand that token the whole tenant), nor change
 * how it authenticates; the operator uses `latchkey admin rotate-secret` instead.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let updateOnly: string;

before(async () => {
  server = await startTestServer();
  updateOnly = await server.managementToken('update:clients');
});
after(() => server.close());

async function clientCredentials(clientId: string, clientSecret: string) {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      audience: `${server.issuer}api/v2/`,
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

function assertRefused(answer: { status: number; body: any }, field: string) {
  assert.equal(answer.status, 403, JSON.stringify(answer.body));
  assert.equal(answer.body.statusCode, 403);
  assert.equal(answer.body.error, 'Forbidden');
  assert.equal(answer.body.errorCode, 'operation_not_supported');
  assert.match(answer.body.message, new RegExp(field));
  assert.match(answer.body.message, /latchkey admin rotate-secret/);
}

test('a token with update:clients cannot set the admin client secret', async () => {
  const attackerSecret = 'a'.repeat(43);
  const patched = await server.management('PATCH', `/clients/${server.admin.clientId}`, { client_secret: attackerSecret }, updateOnly);
  assertRefused(patched, 'client_secret');
  assert.equal((await clientCredentials(server.admin.clientId, attackerSecret)).status, 401);
  const stillWorks = await clientCredentials(server.admin.clientId, server.admin.clientSecret);
  assert.equal(stillWorks.status, 200, JSON.stringify(stillWorks.body));
});

test('a token with update:clients cannot rotate the admin client secret', async () => {
  const rotated = await server.management('POST', `/clients/${server.admin.clientId}/rotate-secret`, undefined, updateOnly);
  assertRefused(rotated, 'secret');
  assert.equal(rotated.body.client_secret, undefined);
  assert.equal((await clientCredentials(server.admin.clientId, server.admin.clientSecret)).status, 200);
});

test('how the admin client authenticates is fixed; its name and metadata are not', async () => {
  for (const [field, value] of [
    ['grant_types', ['client_credentials', 'password']],
    ['token_endpoint_auth_method', 'none'],
    ['app_type', 'native'],
  ] as const) {
    assertRefused(await server.management('PATCH', `/clients/${server.admin.clientId}`, { [field]: value }, updateOnly), field);
  }
  const renamed = await server.management(
    'PATCH',
    `/clients/${server.admin.clientId}`,
    { name: 'ops admin', client_metadata: { team: 'ops' } },
    updateOnly,
  );
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  assert.equal(renamed.body.name, 'ops admin');
  assert.equal(renamed.body.client_secret, undefined);
});

test('other clients still rotate and set their secrets through the Management API', async () => {
  const created = await server.management('POST', '/clients', { name: 'worker', app_type: 'non_interactive' });
  assert.equal(created.status, 201);
  const rotated = await server.management('POST', `/clients/${created.body.client_id}/rotate-secret`, undefined, updateOnly);
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.equal(typeof rotated.body.client_secret, 'string');
  const set = await server.management('PATCH', `/clients/${created.body.client_id}`, { client_secret: 'b'.repeat(43) }, updateOnly);
  assert.equal(set.status, 200, JSON.stringify(set.body));
});
