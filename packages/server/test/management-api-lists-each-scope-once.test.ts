/**
 * The Management API's scopes come from two lists (latchkey's own resources and the Auth0 types it
 * answers as absent) which share some (action modules are read under read:actions). The API, and so
 * a fresh tenant, must still be created: a scope listed twice is refused, and the server would not start.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server?.close());

test(`a fresh tenant's Management API lists each scope once, actions and action modules included (${backend})`, async () => {
  const apis = (await server.management('GET', '/resource-servers')).body as Array<{
    is_system?: boolean;
    scopes: Array<{ value: string }>;
  }>;
  const scopes = apis.find((api) => api.is_system)?.scopes.map((s) => s.value) ?? [];
  assert.ok(scopes.includes('read:actions'));
  assert.equal(new Set(scopes).size, scopes.length);
  assert.equal((await server.management('GET', '/actions/actions')).status, 200);
  assert.equal((await server.management('GET', '/actions/modules')).status, 200);
});
