/**
 * Deleting an API takes its permissions from every role and user, so an API created again under the
 * same identifier starts with none (domain/resource-servers.ts). A permission added while the deletion
 * runs must not slip between the deletion's check and its commit (PostgreSQL runs both at once; it did
 * in about a third of the rounds): otherwise the re-created API's scope is granted to the role's users
 * again. No hook can hold the deletion midway from outside, so the rounds race for real.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createUser } from './helpers/tenant.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

const ROUNDS = 30;

async function createApi(identifier: string): Promise<string> {
  const created = await server.management('POST', '/resource-servers', { name: identifier, identifier, scopes: [{ value: 'read:x' }] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

test('a role permission added while its API is deleted is not held on the API created again', async () => {
  const role = (await server.management('POST', '/roles', { name: 'Racing role' })).body;
  for (let round = 0; round < ROUNDS; round++) {
    const identifier = `https://role-race-${round}.example/`;
    const id = await createApi(identifier);
    const [added, deleted] = await Promise.all([
      server.management('POST', `/roles/${role.id}/permissions`, {
        permissions: [{ resource_server_identifier: identifier, permission_name: 'read:x' }],
      }),
      server.management('DELETE', `/resource-servers/${id}`),
    ]);
    assert.ok([201, 404].includes(added.status), JSON.stringify(added.body));
    assert.equal(deleted.status, 204);
    await createApi(identifier);
    const held = (await server.management('GET', `/roles/${role.id}/permissions?per_page=100`)).body as Array<Record<string, string>>;
    assert.deepEqual(
      held.filter((p) => p.resource_server_identifier === identifier),
      [],
      `round ${round}`,
    );
  }
});

test("a user's permission added while its API is deleted is not held on the API created again", async () => {
  const userId = (await createUser(server, 'racing-user@example.com')).user_id as string;
  const path = `/users/${encodeURIComponent(userId)}/permissions`;
  for (let round = 0; round < ROUNDS; round++) {
    const identifier = `https://user-race-${round}.example/`;
    const id = await createApi(identifier);
    const [added, deleted] = await Promise.all([
      server.management('POST', path, { permissions: [{ resource_server_identifier: identifier, permission_name: 'read:x' }] }),
      server.management('DELETE', `/resource-servers/${id}`),
    ]);
    assert.ok([201, 404].includes(added.status), JSON.stringify(added.body));
    assert.equal(deleted.status, 204);
    await createApi(identifier);
    const held = (await server.management('GET', path)).body as Array<Record<string, string>>;
    assert.deepEqual(
      held.filter((p) => p.resource_server_identifier === identifier),
      [],
      `round ${round}`,
    );
  }
});

test('a client grant created while its API is deleted does not hold on the API created again', async () => {
  const client = await createAppClient(server, {
    name: 'Racing machine',
    app_type: 'non_interactive',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
  });
  for (let round = 0; round < ROUNDS; round++) {
    const identifier = `https://grant-race-${round}.example/`;
    const id = await createApi(identifier);
    const [created, deleted] = await Promise.all([
      server.management('POST', '/client-grants', { client_id: client.client_id, audience: identifier, scope: ['read:x'] }),
      server.management('DELETE', `/resource-servers/${id}`),
    ]);
    assert.ok([201, 404].includes(created.status), JSON.stringify(created.body));
    assert.equal(deleted.status, 204);
    await createApi(identifier);
    const grants = await server.management('GET', `/client-grants?audience=${encodeURIComponent(identifier)}`);
    assert.deepEqual(grants.body, [], `round ${round}`);
  }
});
