import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

/**
 * Two server nodes on one database. Each caches clients, APIs and client grants in memory; a change
 * made through one node must reach the other's cache (PostgreSQL: LISTEN/NOTIFY; SQLite: the
 * data_version watch), and the node that made the change must see it at once.
 */
let nodeA: TestServer;
let nodeB: TestServer;

before(async () => {
  nodeA = await startTestServer();
  nodeB = await startTestServer({ shareWith: nodeA });
});
after(async () => {
  await nodeB.close();
  await nodeA.close();
});

async function clientCredentials(node: TestServer, clientId: string, clientSecret: string, audience: string) {
  const response = await fetch(`${node.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, audience }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

/** Polls until `check` holds, so the test measures propagation instead of sleeping a guessed time. */
async function eventually(check: () => Promise<boolean>, deadlineMs = 5000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`condition not met within ${deadlineMs} ms`);
}

test(`a change made on one node reaches the other node's cache (${backend})`, async (t) => {
  const audience = 'https://orders.example.test/';
  const api = await nodeA.management('POST', '/resource-servers', { identifier: audience, scopes: [{ value: 'read:orders' }] });
  assert.equal(api.status, 201);
  const created = await nodeA.management('POST', '/clients', { name: 'worker', app_type: 'non_interactive' });
  assert.equal(created.status, 201);
  const { client_id: clientId, client_secret: secret } = created.body as { client_id: string; client_secret: string };
  const grant = await nodeA.management('POST', '/client-grants', { client_id: clientId, audience, scope: ['read:orders'] });
  assert.equal(grant.status, 201);

  // Warm both nodes' caches.
  assert.equal((await clientCredentials(nodeA, clientId, secret, audience)).status, 200);
  assert.equal((await clientCredentials(nodeB, clientId, secret, audience)).status, 200);

  // Revoke the grant on node A: A refuses at once, B within the propagation window.
  assert.equal((await nodeA.management('DELETE', `/client-grants/${grant.body.id}`)).status, 204);
  assert.equal((await clientCredentials(nodeA, clientId, secret, audience)).status, 403);
  const grantMs = await eventually(async () => (await clientCredentials(nodeB, clientId, secret, audience)).status === 403);
  t.diagnostic(`grant revocation reached node B after ~${grantMs} ms`);

  // Re-grant through node B, then rotate the secret on node A: the old secret stops working on B.
  assert.equal((await nodeB.management('POST', '/client-grants', { client_id: clientId, audience, scope: ['read:orders'] })).status, 201);
  await eventually(async () => (await clientCredentials(nodeA, clientId, secret, audience)).status === 200);
  assert.equal((await clientCredentials(nodeB, clientId, secret, audience)).status, 200);
  const rotated = await nodeA.management('POST', `/clients/${clientId}/rotate-secret`);
  assert.equal(rotated.status, 200);
  const newSecret = rotated.body.client_secret as string;
  assert.notEqual(newSecret, secret);
  const secretMs = await eventually(async () => (await clientCredentials(nodeB, clientId, secret, audience)).status === 401);
  t.diagnostic(`secret rotation reached node B after ~${secretMs} ms`);
  assert.equal((await clientCredentials(nodeB, clientId, newSecret, audience)).status, 200);

  // A changed token lifetime on the API shows up in tokens minted by the other node.
  assert.equal((await nodeA.management('PATCH', `/resource-servers/${api.body.id}`, { token_lifetime: 120 })).status, 200);
  await eventually(async () => Number((await clientCredentials(nodeB, clientId, newSecret, audience)).body.expires_in) === 120);
});
