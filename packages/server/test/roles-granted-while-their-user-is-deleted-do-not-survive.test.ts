/**
 * Deleting a user takes its roles and permissions along. A user id can be chosen at creation
 * (`user_id`, as in Auth0's imports), so a user created later under the id of a deleted one must
 * start with none: a role or permission assigned while the deletion runs must not slip between the
 * deletion's cascade and its commit (PostgreSQL runs both at once). No hook can hold the deletion
 * midway from outside, so the rounds race for real.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let roleId: string;
const API = 'https://user-race.example/';

before(async () => {
  server = await startTestServer();
  const api = await server.management('POST', '/resource-servers', { name: 'Race API', identifier: API, scopes: [{ value: 'admin:all' }] });
  assert.equal(api.status, 201, JSON.stringify(api.body));
  roleId = (await server.management('POST', '/roles', { name: 'Administrators' })).body.id;
  const granted = await server.management('POST', `/roles/${roleId}/permissions`, {
    permissions: [{ resource_server_identifier: API, permission_name: 'admin:all' }],
  });
  assert.equal(granted.status, 201, JSON.stringify(granted.body));
});
after(() => server.close());

const ROUNDS = 30;

async function createUser(localId: string, email: string): Promise<string> {
  const created = await server.management('POST', '/users', {
    connection: 'Username-Password-Authentication',
    user_id: localId,
    email,
    password: 'Correct-horse-42',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.user_id;
}

test('a role or permission assigned while its user is deleted is not held by a user created again under that id', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const userId = await createUser(`racer${round}`, `first-${round}@example.com`);
    const path = `/users/${encodeURIComponent(userId)}`;
    const [roles, permissions, deleted] = await Promise.all([
      server.management('POST', `${path}/roles`, { roles: [roleId] }),
      server.management('POST', `${path}/permissions`, {
        permissions: [{ resource_server_identifier: API, permission_name: 'admin:all' }],
      }),
      server.management('DELETE', path),
    ]);
    assert.ok([204, 404].includes(roles.status), JSON.stringify(roles.body));
    assert.ok([201, 404].includes(permissions.status), JSON.stringify(permissions.body));
    assert.equal(deleted.status, 204);

    // Someone else, later, under the same id.
    await createUser(`racer${round}`, `second-${round}@example.com`);
    assert.deepEqual((await server.management('GET', `${path}/roles`)).body, [], `round ${round}: roles`);
    assert.deepEqual((await server.management('GET', `${path}/permissions`)).body, [], `round ${round}: permissions`);
  }
});
