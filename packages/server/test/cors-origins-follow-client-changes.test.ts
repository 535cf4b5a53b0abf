import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { backend, startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient } from './helpers/tenant.js';

/**
 * CORS answers come from an index of every client's origins, looked up per origin, and follow each
 * client write (create, update, delete; Management API or dynamic registration) on the node that made
 * it at once and on another node on the same database soon after. No request reads every client:
 * before the index, each registration made the next request with an Origin scan the whole client table.
 */
let nodeA: TestServer;
let nodeB: TestServer;

before(async () => {
  const config = { registrationRateLimit: 1000, registrationTenantRateLimit: 1000 };
  nodeA = await startTestServer({ config });
  nodeB = await startTestServer({ shareWith: nodeA, config });
  assert.equal(
    (
      await nodeA.management('PATCH', '/tenants/settings', {
        flags: { enable_dynamic_client_registration: true, enable_dynamic_client_registration_management: true },
      })
    ).status,
    200,
  );
});
after(async () => {
  await nodeB?.close();
  await nodeA?.close();
});

async function allowedOrigin(node: TestServer, origin: string): Promise<string | null> {
  const response = await fetch(`${node.issuer}oauth/token`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  await response.arrayBuffer();
  return response.headers.get('access-control-allow-origin');
}

const allowed = async (node: TestServer, origin: string) => (await allowedOrigin(node, origin)) === origin;

/** Polls until `check` holds: the other node hears of a change through the change feed. */
async function eventually(check: () => Promise<boolean>, what: string, deadlineMs = 5000): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`${what}: not within ${deadlineMs} ms`);
}

const uniqueOrigin = (label: string) => `https://${label}-${randomBytes(4).toString('hex')}.example.test`;

async function register(node: TestServer, redirectUris: string[]): Promise<Record<string, any>> {
  const response = await fetch(`${node.issuer}oidc/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: redirectUris, token_endpoint_auth_method: 'none' }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as Record<string, any>;
}

describe(`CORS origins follow client changes (${backend})`, () => {
  test('a registered client’s origin is allowed at once, also where it was refused just before, and reaches the other node', async () => {
    const origin = uniqueOrigin('registered');
    // Both nodes answer (and remember) "no" first: the registration must replace that answer.
    assert.equal(await allowedOrigin(nodeA, origin), null);
    assert.equal(await allowedOrigin(nodeB, origin), null);
    await register(nodeA, [`${origin}/callback`]);
    assert.ok(await allowed(nodeA, origin), 'allowed on the registering node at once');
    await eventually(() => allowed(nodeB, origin), 'allowed on the other node');
  });

  test('no request reads every client, however many registrations come in between', async () => {
    const storage = nodeA.ctx.storage;
    const listClients = storage.clients.list.bind(storage.clients);
    let scans = 0;
    storage.clients.list = (page) => {
      scans++;
      return listClients(page);
    };
    try {
      for (let i = 0; i < 3; i++) {
        const origin = uniqueOrigin(`scan${i}`);
        await register(nodeA, [`${origin}/cb`]);
        assert.ok(await allowed(nodeA, origin));
        assert.equal(await allowedOrigin(nodeA, uniqueOrigin('unknown')), null);
      }
    } finally {
      storage.clients.list = listClients;
    }
    assert.equal(scans, 0, 'preflights after registrations listed the clients');
  });

  test('a Management API update moves the allowed origin on both nodes; a delete removes it', async () => {
    const first = uniqueOrigin('spa');
    const second = uniqueOrigin('spa-moved');
    const app = await createAppClient(nodeA, { name: 'SPA', app_type: 'spa', token_endpoint_auth_method: 'none', web_origins: [first] });
    assert.ok(await allowed(nodeA, first));
    await eventually(() => allowed(nodeB, first), 'created origin on the other node');
    assert.equal(await allowedOrigin(nodeB, second), null);

    assert.equal((await nodeA.management('PATCH', `/clients/${app.client_id}`, { web_origins: [second] })).status, 200);
    assert.equal(await allowedOrigin(nodeA, first), null, 'the old origin is refused at once');
    assert.ok(await allowed(nodeA, second), 'the new origin is allowed at once');
    await eventually(
      async () => (await allowedOrigin(nodeB, first)) === null && (await allowed(nodeB, second)),
      'update on the other node',
    );

    // An origin two clients share stays allowed while one of them still lists it.
    const other = await createAppClient(nodeB, {
      name: 'Other SPA',
      app_type: 'spa',
      token_endpoint_auth_method: 'none',
      allowed_origins: [second],
    });
    assert.equal((await nodeB.management('DELETE', `/clients/${app.client_id}`)).status, 204);
    assert.ok(await allowed(nodeB, second), 'still listed by the other client');
    assert.equal((await nodeB.management('DELETE', `/clients/${other.client_id}`)).status, 204);
    assert.equal(await allowedOrigin(nodeB, second), null, 'refused at once on the deleting node');
    await eventually(async () => (await allowedOrigin(nodeA, second)) === null, 'delete on the other node');
  });

  test('a registration replaced (RFC 7592 PUT) or deleted by its client changes origins, port-less loopback callbacks too', async () => {
    // [::1] callbacks without a port appear nowhere else in this file: the any-port answer is this client's alone.
    const created = await register(nodeA, ['http://[::1]/callback']);
    assert.ok(await allowed(nodeA, 'http://[::1]:4711'));
    await eventually(() => allowed(nodeB, 'http://[::1]:4711'), 'loopback origin on the other node');

    const moved = uniqueOrigin('replaced');
    const replaced = await fetch(created.registration_client_uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${created.registration_access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: created.client_id, redirect_uris: [`${moved}/cb`], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(replaced.status, 200);
    assert.equal(await allowedOrigin(nodeA, 'http://[::1]:4711'), null);
    assert.ok(await allowed(nodeA, moved));
    await eventually(
      async () => (await allowedOrigin(nodeB, 'http://[::1]:4711')) === null && (await allowed(nodeB, moved)),
      'replacement on the other node',
    );

    const deleted = await fetch(created.registration_client_uri, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${created.registration_access_token}` },
    });
    assert.equal(deleted.status, 204);
    assert.equal(await allowedOrigin(nodeA, moved), null);
    await eventually(async () => (await allowedOrigin(nodeB, moved)) === null, 'deletion on the other node');
  });
});
