import assert from 'node:assert/strict';
import type { TestServer } from './server.js';

export const TEST_PASSWORD = 'Correct-horse-42';

/** A client created through the Management API and enabled on the database connection. */
export async function createAppClient(
  server: TestServer,
  body: Record<string, unknown>,
): Promise<{ client_id: string; client_secret?: string } & Record<string, any>> {
  const created = await server.management('POST', '/clients', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await enableOnDatabaseConnection(server, created.body.client_id);
  return created.body;
}

/**
 * A confidential web app allowed the password grant on the database connection, with that connection as
 * the tenant's default directory (the password grant names no realm).
 */
export async function createPasswordGrantApp(
  server: TestServer,
): Promise<{ client_id: string; client_secret?: string } & Record<string, any>> {
  const app = await createAppClient(server, {
    name: 'Password grant app',
    app_type: 'regular_web',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['password'],
    callbacks: ['https://web.example.test/callback'],
  });
  const settings = await server.management('PATCH', '/tenants/settings', { default_directory: 'Username-Password-Authentication' });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  return app;
}

export async function enableOnDatabaseConnection(server: TestServer, clientId: string): Promise<void> {
  const { body: connections } = await server.management('GET', '/connections?name=Username-Password-Authentication');
  const connection = connections[0];
  const patched = await server.management('PATCH', `/connections/${connection.id}`, {
    enabled_clients: [...connection.enabled_clients, clientId],
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
}

/** A native app (public client, PKCE) as in the desktop scenario. */
export function createNativeApp(server: TestServer, callbacks: string[], extra: Record<string, unknown> = {}) {
  return createAppClient(server, {
    name: 'Desktop App',
    app_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    callbacks,
    allowed_logout_urls: callbacks,
    ...extra,
  });
}

/** An API that allows offline access, with one scope. */
export async function createApi(server: TestServer, identifier = 'https://api.example.test/'): Promise<Record<string, any>> {
  const created = await server.management('POST', '/resource-servers', {
    name: 'Example API',
    identifier,
    signing_alg: 'RS256',
    allow_offline_access: true,
    skip_consent_for_verifiable_first_party_clients: true,
    scopes: [{ value: 'read:messages', description: 'Read your messages' }],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

export async function createUser(server: TestServer, email: string, extra: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const created = await server.management('POST', '/users', {
    connection: 'Username-Password-Authentication',
    email,
    password: TEST_PASSWORD,
    name: 'Ada Lovelace',
    ...extra,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

/** Third-party clients may only use domain connections: makes the database connection one. */
export async function makeDatabaseConnectionDomainWide(server: TestServer): Promise<void> {
  const { body: connections } = await server.management('GET', '/connections?name=Username-Password-Authentication');
  const patched = await server.management('PATCH', `/connections/${connections[0].id}`, { is_domain_connection: true });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
}
