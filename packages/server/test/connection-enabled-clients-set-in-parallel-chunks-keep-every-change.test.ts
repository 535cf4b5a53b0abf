/**
 * auth0-deploy-cli sets a connection's enabled clients with PATCH /connections/{id}/clients in
 * chunks of 50 entries, sent in parallel. Each chunk must change the list as stored when it is
 * applied: a chunk that rewrote the list it read before another chunk landed would drop that chunk's
 * clients. A PATCH of the connection itself, or a client's deletion, meanwhile keeps them too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let connectionId: string;
const clientIds: string[] = [];

before(async () => {
  server = await startTestServer();
  const created = await server.management('POST', '/connections', { name: 'chunked', strategy: 'auth0' });
  connectionId = created.body.id;
  for (let i = 0; i < 130; i++) {
    const client = await server.management('POST', '/clients', { name: `app ${i}`, app_type: 'non_interactive' });
    clientIds.push(client.body.client_id);
  }
});
after(() => server?.close());

const enabledClients = async () =>
  ((await server.management('GET', `/connections/${connectionId}`)).body.enabled_clients as string[]).sort();

test(`enabled clients sent as parallel chunks of 50 are all enabled, and all disabled again (${backend})`, async () => {
  const chunks = [clientIds.slice(0, 50), clientIds.slice(50, 100), clientIds.slice(100)];
  const patch = (status: boolean) =>
    Promise.all(
      chunks.map((chunk) =>
        server.management(
          'PATCH',
          `/connections/${connectionId}/clients`,
          chunk.map((client_id) => ({ client_id, status })),
        ),
      ),
    );
  for (const answer of await patch(true)) assert.equal(answer.status, 204, JSON.stringify(answer.body));
  assert.deepEqual(await enabledClients(), [...clientIds].sort());
  for (const answer of await patch(false)) assert.equal(answer.status, 204, JSON.stringify(answer.body));
  assert.deepEqual(await enabledClients(), []);
});

test(`a connection's PATCH, a client's deletion and enabled-client chunks at once keep each other's changes (${backend})`, async () => {
  const [kept, deleted, ...others] = clientIds;
  await server.management(
    'PATCH',
    `/connections/${connectionId}/clients`,
    [kept, deleted].map((client_id) => ({ client_id, status: true })),
  );
  const answers = await Promise.all([
    server.management('PATCH', `/connections/${connectionId}`, { display_name: 'Chunked' }),
    server.management('DELETE', `/clients/${deleted}`),
    server.management(
      'PATCH',
      `/connections/${connectionId}/clients`,
      others.slice(0, 50).map((client_id) => ({ client_id, status: true })),
    ),
  ]);
  for (const answer of answers) assert.ok(answer.status < 300, JSON.stringify(answer.body));
  assert.deepEqual(await enabledClients(), [kept!, ...others.slice(0, 50)].sort());
  assert.equal((await server.management('GET', `/connections/${connectionId}`)).body.display_name, 'Chunked');
});
