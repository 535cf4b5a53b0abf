/**
 * Request bodies are checked by schema, in each surface's 400 shape: connection `options` by the
 * connection's strategy (auth0, oauth2, oidc; on PATCH the stored strategy), and RFC 7591 bodies at
 * /oidc/register with RFC 7591's codes (invalid_redirect_uri for redirect_uris).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
before(async () => {
  // Every registration request counts against the address's per-second allowance.
  server = await startTestServer({ config: { registrationRateLimit: 100 } });
});
after(() => server?.close());

const oauth2Options = {
  client_id: 'upstream-client',
  client_secret: 'upstream-secret',
  authorizationURL: 'https://idp.example/authorize',
  tokenURL: 'https://idp.example/token',
  scripts: { fetchUserProfile: 'function (token, ctx, cb) { cb(null, { user_id: "1" }); }' },
};
const oidcOptions = { client_id: 'upstream-client', issuer: 'https://idp.example/' };

async function assertInvalidOption(result: { status: number; body: any }, field: string) {
  assert.equal(result.status, 400, JSON.stringify(result.body));
  assert.equal(result.body.statusCode, 400);
  assert.equal(result.body.error, 'Bad Request');
  assert.equal(result.body.errorCode, 'invalid_body');
  assert.ok(result.body.message.startsWith('Payload validation error: '), result.body.message);
  assert.ok(result.body.message.includes(field), `${result.body.message} names ${field}`);
}

describe('connection options: one schema per strategy', () => {
  test('auth0', async () => {
    await assertInvalidOption(
      await server.management('POST', '/connections', { name: 'db-a', strategy: 'auth0', options: { brute_force_protection: 'yes' } }),
      'options.brute_force_protection',
    );
    await assertInvalidOption(
      await server.management('POST', '/connections', {
        name: 'db-b',
        strategy: 'auth0',
        options: { password_complexity_options: { min_length: 0 } },
      }),
      'options.password_complexity_options.min_length',
    );
    const ok = await server.management('POST', '/connections', {
      name: 'db-c',
      strategy: 'auth0',
      options: { disable_signup: true, something_auth0_sends: 'kept' },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('oauth2', async () => {
    const { tokenURL: _t, ...noTokenUrl } = oauth2Options;
    await assertInvalidOption(
      await server.management('POST', '/connections', { name: 'up-a', strategy: 'oauth2', options: noTokenUrl }),
      'options.tokenURL',
    );
    await assertInvalidOption(
      await server.management('POST', '/connections', {
        name: 'up-b',
        strategy: 'oauth2',
        options: { ...oauth2Options, customHeaders: { 'x-a': 1 } },
      }),
      'options.customHeaders.x-a',
    );
    await assertInvalidOption(
      await server.management('POST', '/connections', { name: 'up-c', strategy: 'oauth2', options: { ...oauth2Options, scripts: {} } }),
      'options.scripts.fetchUserProfile',
    );
    const created = await server.management('POST', '/connections', { name: 'up-ok', strategy: 'oauth2', options: oauth2Options });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // PATCH names no strategy: the stored one decides.
    await assertInvalidOption(
      await server.management('PATCH', `/connections/${created.body.id}`, { options: { ...oauth2Options, pkce_enabled: 'no' } }),
      'options.pkce_enabled',
    );
    // A semantic rule the schema cannot say stays with the domain, in the same shape.
    await assertInvalidOption(
      await server.management('POST', '/connections', {
        name: 'up-d',
        strategy: 'oauth2',
        options: { ...oauth2Options, tokenURL: 'http://idp.example/token' },
      }),
      'options.tokenURL',
    );
  });

  test('oidc', async () => {
    await assertInvalidOption(
      await server.management('POST', '/connections', { name: 'oidc-a', strategy: 'oidc', options: { ...oidcOptions, client_id: 5 } }),
      'options.client_id',
    );
    await assertInvalidOption(
      await server.management('POST', '/connections', { name: 'oidc-b', strategy: 'oidc', options: { issuer: 'https://idp.example/' } }),
      'options.client_id',
    );
    await assertInvalidOption(
      await server.management('POST', '/connections', {
        name: 'oidc-c',
        strategy: 'oidc',
        options: { ...oidcOptions, scope: { openid: true } },
      }),
      'options.scope',
    );
    const ok = await server.management('POST', '/connections', {
      name: 'oidc-ok',
      strategy: 'oidc',
      options: { ...oidcOptions, scope: ['openid', 'email'] },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });
});

describe('RFC 7591 bodies', () => {
  before(async () => {
    const flag = await server.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } });
    assert.equal(flag.status, 200);
  });

  const register = async (body: unknown) => {
    const response = await fetch(`${server.issuer}oidc/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { error: string; error_description: string } };
  };
  const CALLBACK = 'http://127.0.0.1:50200/callback';

  for (const [name, body, error, field] of [
    ['no redirect_uris', { client_name: 'x' }, 'invalid_redirect_uri', 'redirect_uris'],
    ['empty redirect_uris', { redirect_uris: [] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['redirect_uris of numbers', { redirect_uris: [1] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['client_name a number', { redirect_uris: [CALLBACK], client_name: 5 }, 'invalid_client_metadata', 'client_name'],
    [
      'unknown auth method',
      { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'private_key_jwt' },
      'invalid_client_metadata',
      'token_endpoint_auth_method',
    ],
    [
      'eleven contacts',
      { redirect_uris: [CALLBACK], contacts: Array.from({ length: 11 }, (_, i) => `a${i}@example.com`) },
      'invalid_client_metadata',
      'contacts',
    ],
    ['grant_types a string', { redirect_uris: [CALLBACK], grant_types: 'authorization_code' }, 'invalid_client_metadata', 'grant_types'],
  ] as const) {
    test(`${name}: 400 ${error} naming ${field}`, async () => {
      const result = await register(body);
      assert.equal(result.status, 400, JSON.stringify(result.body));
      assert.equal(result.body.error, error);
      assert.ok(result.body.error_description.startsWith(`${field}:`), result.body.error_description);
    });
  }

  test('a body that is not JSON: 400 invalid_client_metadata, not a 500', async () => {
    const response = await fetch(`${server.issuer}oidc/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"redirect_uris": [',
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
  });

  test('unknown metadata is ignored (RFC 7591 §2) and a good body registers', async () => {
    const result = await register({
      redirect_uris: [CALLBACK],
      client_name: 'Fine',
      software_id: 'anything',
      token_endpoint_auth_method: 'none',
    });
    assert.equal(result.status, 201, JSON.stringify(result.body));
  });
});
