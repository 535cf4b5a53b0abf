import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

test('discovery names the issuer with a trailing slash and only endpoints that exist', async () => {
  for (const path of ['.well-known/openid-configuration', '.well-known/oauth-authorization-server']) {
    const response = await fetch(`${server.issuer}${path}`);
    assert.equal(response.status, 200);
    const metadata = (await response.json()) as Record<string, unknown>;
    assert.equal(metadata.issuer, server.issuer);
    assert.match(server.issuer, /\/$/);
    assert.equal(metadata.token_endpoint, `${server.issuer}oauth/token`);
    assert.equal(metadata.jwks_uri, `${server.issuer}.well-known/jwks.json`);
    assert.deepEqual(metadata.id_token_signing_alg_values_supported, ['RS256']);
    assert.deepEqual(metadata.subject_types_supported, ['public']);
    assert.equal(metadata.authorization_endpoint, `${server.issuer}authorize`);
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    // Listed even while the tenant flag is off, as Auth0 does (the endpoint then answers 403).
    assert.equal(metadata.registration_endpoint, `${server.issuer}oidc/register`);
  }
});

test('the JWKS publishes one RS256 signing key with a kid and no private parts', async () => {
  const response = await fetch(`${server.issuer}.well-known/jwks.json`);
  const { keys } = (await response.json()) as { keys: Array<Record<string, string>> };
  assert.equal(keys.length, 1);
  const [key] = keys;
  assert.equal(key!.kty, 'RSA');
  assert.equal(key!.use, 'sig');
  assert.equal(key!.alg, 'RS256');
  assert.ok(key!.kid && key!.n && key!.e);
  assert.equal(Buffer.from(key!.n!, 'base64url').length, 256, '2048-bit modulus');
  for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(key![secret], undefined);
});

test('healthz answers when the database does', async () => {
  const response = await fetch(`${server.issuer}healthz`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: 'ok' });
});
