import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type GrantHandler, grantRegistry } from '../src/oauth/grants/index.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * A grant registered the way every grant is, and nowhere else: if the token endpoint's parameters,
 * the clients' grant types, registration or discovery were kept by hand again, it would lose a part.
 */
const ECHO_GRANT = 'urn:latchkey:test:grant-type:echo';
const echoGrant: GrantHandler = {
  grantType: ECHO_GRANT,
  confidentialOnly: false,
  parameters: [{ name: 'ticket', required: true, maxLength: 16 }, { name: 'scope' }],
  dynamicRegistration: true,
  // Tells what it was given: the ticket, and the names of every parameter that reached it.
  handle: async (_ctx, _client, params) => ({
    access_token: `echo:${params.ticket}`,
    token_type: 'Bearer',
    expires_in: 60,
    scope: Object.keys(params).sort().join(' '),
  }),
};

describe('the built-in registry', () => {
  test('/oauth/token reads what Auth0 clients send, and nothing the grants do not declare', () => {
    assert.deepEqual([...grantRegistry.tokenParameters].sort(), [
      'audience',
      'client_id',
      'client_secret',
      'code',
      'code_verifier',
      'device_code',
      'grant_type',
      'password',
      'realm',
      'redirect_uri',
      'refresh_token',
      'scope',
      'username',
    ]);
    const declared = grantRegistry.tokenGrantTypes.flatMap((type) => grantRegistry.handler(type)!.parameters.map((p) => p.name));
    assert.deepEqual(new Set(grantRegistry.tokenParameters), new Set(['grant_type', 'client_id', 'client_secret', ...declared]));
  });

  test('clients may hold every token grant type and implicit; registered clients the code and refresh grants', () => {
    assert.deepEqual(grantRegistry.tokenGrantTypes, [
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'password',
      'http://auth0.com/oauth/grant-type/password-realm',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]);
    assert.deepEqual(grantRegistry.clientGrantTypes.sort(), [...grantRegistry.tokenGrantTypes, 'implicit'].sort());
    assert.deepEqual(grantRegistry.registrableGrantTypes, ['authorization_code', 'refresh_token']);
  });

  test('a grant type cannot be registered twice', () => {
    assert.throws(() => grantRegistry.with({ ...echoGrant, grantType: 'password' }), /registered twice: password/);
  });
});

describe('a grant added through the registry alone', () => {
  let server: TestServer;
  let client: { client_id: string; client_secret: string };

  const token = async (body: Record<string, string>) => {
    const response = await fetch(`${server.issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: ECHO_GRANT, client_id: client.client_id, client_secret: client.client_secret, ...body }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };

  before(async () => {
    server = await startTestServer({ grants: grantRegistry.with(echoGrant) });
  });
  after(async () => server?.close());

  test('is listed in discovery after the built-in ones', async () => {
    const response = await fetch(`${server.issuer}.well-known/openid-configuration`);
    const metadata = (await response.json()) as { grant_types_supported: string[] };
    assert.deepEqual(metadata.grant_types_supported, [...grantRegistry.tokenGrantTypes, ECHO_GRANT]);
  });

  test('may be given to a client through the Management API; an unknown grant type may not', async () => {
    const created = await server.management('POST', '/clients', {
      name: 'Echo',
      app_type: 'non_interactive',
      grant_types: [ECHO_GRANT, 'implicit'],
      token_endpoint_auth_method: 'client_secret_post',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.grant_types, [ECHO_GRANT, 'implicit']);
    client = created.body;
    const unregistered = 'urn:latchkey:test:grant-type:unregistered';
    const unknown = await server.management('POST', '/clients', { name: 'Unknown', grant_types: [unregistered] });
    assert.equal(unknown.status, 400);
  });

  test('gets its declared parameters at /oauth/token and no others', async () => {
    const { status, body } = await token({ ticket: 'abc', scope: 'read', username: 'not-declared-by-this-grant', other: 'x' });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.access_token, 'echo:abc');
    // username is read by the endpoint (the password grant declares it); the handler sees it, `other` never.
    assert.equal(body.scope, 'client_id client_secret grant_type scope ticket username');
  });

  test('a required parameter missing, or one longer than declared, is refused before the handler runs', async () => {
    const missing = await token({});
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body, { error: 'invalid_request', error_description: 'Missing required parameter: ticket' });
    const long = await token({ ticket: 'x'.repeat(17) });
    assert.equal(long.status, 400);
    assert.equal(long.body.error, 'invalid_request');
    assert.match(long.body.error_description!, /ticket is too long/);
  });

  test('may be asked for at dynamic registration, since it declares so; client_credentials may not', async () => {
    await server.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } });
    const register = (grantTypes: string[]) =>
      fetch(`${server.issuer}oidc/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'Echo app', redirect_uris: ['https://app.example/cb'], grant_types: grantTypes }),
      });
    const accepted = await register(['authorization_code', ECHO_GRANT]);
    assert.equal(accepted.status, 201);
    assert.deepEqual(((await accepted.json()) as { grant_types: string[] }).grant_types, ['authorization_code', ECHO_GRANT]);
    const refused = await register(['authorization_code', 'client_credentials']);
    assert.equal(refused.status, 400);
    const { error_description: description } = (await refused.json()) as { error_description: string };
    assert.match(description, /not allowed for registered clients: client_credentials/);
  });
});
