import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent } from 'undici';
import { TestClock } from './helpers/protocol.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

/**
 * Open registration must not let anyone grow the client table without bound: a tenant-wide rate
 * limit, counted in the database so that more source addresses or more nodes do not buy more, and a
 * cap on the registered clients the tenant holds (deleting one frees its place).
 */

/** A connection from another loopback source address (127.0.0.x): the server sees a different request.ip. */
const fromAddress = new Map<number, Agent>();
function agentFor(n: number): Agent {
  let agent = fromAddress.get(n);
  if (!agent) fromAddress.set(n, (agent = new Agent({ localAddress: `127.0.0.${n}` })));
  return agent;
}
after(async () => {
  for (const agent of fromAddress.values()) await agent.close();
});

async function register(node: TestServer, options: { address?: number; redirectUri?: string } = {}): Promise<Response> {
  return fetch(`${node.issuer}oidc/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [options.redirectUri ?? 'https://limits.example.test/cb'], token_endpoint_auth_method: 'none' }),
    ...(options.address !== undefined ? { dispatcher: agentFor(options.address) } : {}),
  } as RequestInit);
}

const enableRegistration = (node: TestServer) =>
  node.management('PATCH', '/tenants/settings', {
    flags: { enable_dynamic_client_registration: true, enable_dynamic_client_registration_management: true },
  });

describe(`tenant-wide registration rate limit (${backend})`, () => {
  const clock = new TestClock();
  // The middle of a minute, so the test's own run time cannot cross into the next window.
  clock.value = Date.parse('2026-11-23T12:00:30Z');
  let nodeA: TestServer;
  let nodeB: TestServer;

  before(async () => {
    const config = { registrationRateLimit: 2, registrationTenantRateLimit: 5 };
    nodeA = await startTestServer({ now: clock.now, config });
    assert.equal((await enableRegistration(nodeA)).status, 200);
    nodeB = await startTestServer({ now: clock.now, shareWith: nodeA, config });
  });
  after(async () => {
    await nodeB?.close();
    await nodeA?.close();
  });

  test('distinct addresses on two nodes share one budget: 429, Retry-After, X-RateLimit-* once spent, until the next minute', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    // Eight source addresses, one registration each, alternating nodes: no address reaches its own limit of 2.
    for (let address = 2; address <= 9; address++) {
      last = await register(address % 2 === 0 ? nodeA : nodeB, { address });
      statuses.push(last.status);
      if (last.status !== 429) await last.arrayBuffer();
    }
    assert.deepEqual(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
    assert.equal(((await last!.json()) as { error: string }).error, 'too_many_requests');
    const windowEnd = Date.parse('2026-11-23T12:01:00Z');
    assert.equal(last!.headers.get('x-ratelimit-limit'), '5');
    assert.equal(last!.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(last!.headers.get('x-ratelimit-reset'), String(windowEnd / 1000));
    assert.equal(last!.headers.get('retry-after'), String((windowEnd - clock.value) / 1000));

    // Requests that would not register (malformed metadata) are not counted and still get their 400.
    const malformed = await fetch(`${nodeA.issuer}oidc/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://evil.example/cb'] }),
      dispatcher: agentFor(20),
    } as RequestInit);
    assert.equal(malformed.status, 400);

    clock.advance(30_000); // the next minute
    const next = await register(nodeB, { address: 21 });
    assert.equal(next.status, 201, await next.clone().text());
    assert.equal(next.headers.get('x-ratelimit-remaining'), '1', 'the per-address budget (2 a second) is the tighter one again');
  });
});

describe(`cap on dynamically registered clients (${backend})`, () => {
  let server: TestServer;
  const MAX = 4;

  before(async () => {
    server = await startTestServer({
      config: { registrationRateLimit: 1000, registrationTenantRateLimit: 1000, registrationMaxClients: MAX },
    });
    assert.equal((await enableRegistration(server)).status, 200);
  });
  after(() => server?.close());

  async function assertFull(response: Response): Promise<void> {
    assert.equal(response.status, 403);
    const body = (await response.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'access_denied');
    assert.match(body.error_description, /LATCHKEY_REGISTRATION_MAX_CLIENTS/);
  }

  test('registrations beyond the cap get 403 access_denied; a Management API or RFC 7592 delete frees a place', async () => {
    const created: Array<Record<string, any>> = [];
    for (let i = 0; i < MAX; i++) {
      const response = await register(server);
      assert.equal(response.status, 201);
      created.push((await response.json()) as Record<string, any>);
    }
    await assertFull(await register(server));
    // Clients made by an admin do not count and are never refused.
    assert.equal((await server.management('POST', '/clients', { name: 'Admin-made', app_type: 'spa' })).status, 201);

    assert.equal((await server.management('DELETE', `/clients/${created[0]!.client_id}`)).status, 204);
    const again = await register(server);
    assert.equal(again.status, 201);
    created[0] = (await again.json()) as Record<string, any>;
    await assertFull(await register(server));

    const self = created[1]!;
    const deleted = await fetch(self.registration_client_uri, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${self.registration_access_token}` },
    });
    assert.equal(deleted.status, 204);
    assert.equal((await register(server)).status, 201);
    await assertFull(await register(server));
  });

  test('parallel registrations never overshoot the cap', async () => {
    const clients = (await server.management('GET', '/clients?per_page=100')).body as Array<{
      client_id: string;
      registration_source: string;
    }>;
    for (const client of clients.filter((c) => c.registration_source === 'dynamic_registration')) {
      assert.equal((await server.management('DELETE', `/clients/${client.client_id}`)).status, 204);
    }
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => register(server, { address: 30 + i })));
    const statuses = responses.map((r) => r.status).sort();
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    assert.deepEqual(statuses, [...Array<number>(MAX).fill(201), ...Array<number>(12 - MAX).fill(403)]);
    const after = (await server.management('GET', '/clients?per_page=100')).body as Array<{ registration_source: string }>;
    assert.equal(after.filter((c) => c.registration_source === 'dynamic_registration').length, MAX);
  });
});
