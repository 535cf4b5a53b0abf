import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const API = 'https://partner-api.example.test/';
const EMAIL = 'kim@example.com';
const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'screenshots');

let server: TestServer;
let browser: Browser;
let callback: Server;
let callbackOrigin: string;
let userId: string;
let databaseConnectionId: string;

const register = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.issuer}oidc/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const setFlag = (on: boolean) => server.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: on } });
const setDomainConnection = (on: boolean) =>
  server.management('PATCH', `/connections/${databaseConnectionId}`, { is_domain_connection: on });

before(async () => {
  server = await startTestServer({ config: { registrationRateLimit: 1000 } });
  browser = await launchChromium();
  await createApi(server, API);
  userId = (await createUser(server, EMAIL)).user_id;
  databaseConnectionId = (await server.management('GET', '/connections?name=Username-Password-Authentication')).body[0].id;
  // The registered app's loopback callback: answers anything, so the browser settles there.
  callback = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>app</p>'));
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  callbackOrigin = `http://127.0.0.1:${(callback.address() as AddressInfo).port}`;
});

after(async () => {
  await browser?.close();
  callback?.close();
  await server?.close();
});

describe('registration is refused while the tenant flag is off', () => {
  test('403 while the flag is off, though discovery lists the endpoint as Auth0 does (clients keep discovery once read)', async () => {
    const metadata = (await (await fetch(`${server.issuer}.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(metadata.registration_endpoint, `${server.issuer}oidc/register`);
    const response = await fetch(metadata.registration_endpoint as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://app.example/cb'] }),
    });
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { error: string }).error, 'access_denied');
  });
});

describe('with dynamic registration enabled', () => {
  let config: client.Configuration;

  before(async () => {
    assert.equal((await setFlag(true)).status, 200);
  });

  test('discovery advertises /oidc/register and openid-client registers a third-party client', async () => {
    const metadata = (await (await fetch(`${server.issuer}.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(metadata.registration_endpoint, `${server.issuer}oidc/register`);
    config = await client.dynamicClientRegistration(
      new URL(server.issuer),
      {
        client_name: 'Partner Sync',
        redirect_uris: [`http://127.0.0.1/callback`],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        client_uri: 'https://partner.example/',
        policy_uri: 'https://partner.example/privacy',
        tos_uri: 'https://partner.example/terms',
      },
      client.None(),
      { execute: [client.allowInsecureRequests] },
    );
    const registered = config.clientMetadata();
    assert.match(registered.client_id, /^tpc_/);
    assert.equal(registered.client_secret, undefined, 'public clients get no secret');
    assert.equal(registered.client_secret_expires_at, 0);
    const listed = await server.management('GET', `/clients/${registered.client_id}`);
    assert.equal(listed.body.is_first_party, false);
    assert.equal(listed.body.registration_source, 'dynamic_registration');
    const adminMade = await server.management('GET', `/clients/${server.admin.clientId}`);
    assert.equal(adminMade.body.registration_source, 'management_api');
  });

  test('a confidential registration gets a secret that works at the token endpoint', async () => {
    const response = await register({ client_name: 'Server app', redirect_uris: ['https://server.example/cb'] });
    assert.equal(response.status, 201);
    const body = (await response.json()) as Record<string, any>;
    assert.equal(body.token_endpoint_auth_method, 'client_secret_post');
    assert.deepEqual(body.grant_types, ['authorization_code']);
    assert.ok(body.client_secret.length >= 43);
    const token = await fetch(`${server.issuer}oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'nope',
        client_id: body.client_id,
        client_secret: body.client_secret,
        redirect_uri: 'https://server.example/cb',
      }),
    });
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_grant', 'the client authenticated; only the code is wrong');
  });

  test('bad redirect URIs are refused with invalid_redirect_uri', async () => {
    for (const uri of [
      'http://app.example/cb',
      'http://localhost/cb',
      'myapp:/callback',
      'https://app.example/cb#fragment',
      'javascript:alert(1)',
      'not a url',
    ]) {
      const response = await register({ redirect_uris: [uri] });
      assert.equal(response.status, 400, uri);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_redirect_uri', uri);
    }
    const missing = await register({ client_name: 'No callbacks' });
    assert.equal(((await missing.json()) as { error: string }).error, 'invalid_redirect_uri');
    for (const uri of ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'com.example.app:/callback']) {
      assert.equal((await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' })).status, 201, uri);
    }
  });

  test('grant types other than authorization_code and refresh_token are refused', async () => {
    for (const grantTypes of [['client_credentials'], ['authorization_code', 'password'], ['implicit'], ['refresh_token']]) {
      const response = await register({ redirect_uris: ['https://app.example/cb'], grant_types: grantTypes });
      assert.equal(response.status, 400, grantTypes.join());
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
    }
    const badMethod = await register({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'private_key_jwt' });
    assert.equal(((await badMethod.json()) as { error: string }).error, 'invalid_client_metadata');
  });

  async function startLogin(page: Page, extra: Record<string, string> = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${callbackOrigin}/callback`,
      scope: 'openid profile offline_access read:messages',
      audience: API,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    });
    const response = await page.goto(url.href);
    return { verifier, state, response };
  }

  test('a third-party client cannot use a connection that is not a domain connection', async () => {
    const { context, page } = await newContext(browser);
    const { response } = await startLogin(page);
    assert.equal(response!.status(), 400);
    await page.getByText('Third-party applications can only sign in through domain connections').waitFor();
    const named = await startLogin(page, { connection: 'Username-Password-Authentication' });
    const location = new URL(page.url());
    assert.equal(location.origin, callbackOrigin);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description')!, /not a domain connection/);
    assert.equal(location.searchParams.get('state'), named.state);
    await context.close();
  });

  test('consent: deny returns access_denied; accept is remembered, and asked again after revocation', async () => {
    assert.equal((await setDomainConnection(true)).status, 200);
    const { context, page, problems } = await newContext(browser);

    let flow = await startLogin(page);
    await submitLogin(page, EMAIL, TEST_PASSWORD);
    await page.getByRole('heading', { name: 'Authorize Partner Sync' }).waitFor();
    const text = (await page.locator('main').textContent())!;
    for (const expected of ['Website', 'Privacy policy', 'Terms of service', 'Read your messages', EMAIL])
      assert.ok(text.includes(expected), expected);
    await page.screenshot({ path: join(SCREENSHOTS, 'consent-dynamic-client-desktop.png') });
    await page.getByRole('button', { name: 'Decline' }).click();
    await page.waitForURL(`${callbackOrigin}/callback?**`);
    assert.equal(new URL(page.url()).searchParams.get('error'), 'access_denied');
    assert.equal(new URL(page.url()).searchParams.get('state'), flow.state);

    flow = await startLogin(page);
    await page.getByRole('button', { name: 'Accept' }).click();
    await page.waitForURL(`${callbackOrigin}/callback?**`);
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
    });
    assert.equal(tokens.claims()!.sub, userId);
    assert.ok(tokens.refresh_token);

    // Consent is remembered: the next sign-in goes straight back to the app.
    flow = await startLogin(page);
    assert.equal(new URL(page.url()).origin, callbackOrigin);
    assert.ok(new URL(page.url()).searchParams.get('code'));

    const grants = await server.management('GET', `/grants?user_id=${encodeURIComponent(userId)}`);
    assert.equal(grants.status, 200);
    assert.equal(grants.body.length, 1);
    assert.equal(grants.body[0].clientID, config.clientMetadata().client_id);
    assert.deepEqual(grants.body[0].scope.sort(), ['offline_access', 'openid', 'profile', 'read:messages']);
    const beforeRevocation = await client.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(beforeRevocation.refresh_token, 'the refresh token works while consent stands');
    assert.equal((await server.management('DELETE', `/grants/${grants.body[0].id}`)).status, 204);
    assert.equal((await server.management('DELETE', `/grants/${grants.body[0].id}`)).status, 404);
    await assert.rejects(
      client.refreshTokenGrant(config, beforeRevocation.refresh_token!),
      (err: Error & { error?: string }) => err.error === 'invalid_grant',
      'revoking consent revokes the refresh tokens the client holds for the user',
    );

    await startLogin(page);
    await page.getByRole('heading', { name: 'Authorize Partner Sync' }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
    assert.equal((await setDomainConnection(false)).status, 200);
  });

  test('PKCE is required of third-party clients, confidential ones included', async () => {
    const body = (await (await register({ client_name: 'Confidential partner', redirect_uris: [`${callbackOrigin}/cb`] })).json()) as {
      client_id: string;
    };
    const url = new URL(`${server.issuer}authorize`);
    for (const [k, v] of Object.entries({
      client_id: body.client_id,
      response_type: 'code',
      redirect_uri: `${callbackOrigin}/cb`,
      scope: 'openid',
      state: 's1',
    }))
      url.searchParams.set(k, v);
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description')!, /code_challenge is required/);
  });
});

describe('registration limits', () => {
  let limited: TestServer;
  const frozen = Date.parse('2026-11-23T12:00:00.250Z');

  before(async () => {
    limited = await startTestServer({
      now: () => frozen,
      config: { registrationRateLimit: 3, registrationInitialAccessToken: 'i'.repeat(40) },
    });
    await limited.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } });
  });
  after(() => limited.close());

  const registerAt = (headers: Record<string, string>) =>
    fetch(`${limited.issuer}oidc/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ redirect_uris: ['https://app.example/cb'] }),
    });

  test('an initial access token is required when configured', async () => {
    const without = await registerAt({});
    assert.equal(without.status, 401);
    assert.match(without.headers.get('www-authenticate')!, /invalid_token/);
    assert.equal((await registerAt({ authorization: `Bearer ${'x'.repeat(40)}` })).status, 401);
  });

  test('more than the limit per second from one address gets 429 with rate-limit headers', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    // The two 401s above already counted against this second's budget of three.
    for (let i = 0; i < 3; i++) {
      last = await registerAt({ authorization: `Bearer ${'i'.repeat(40)}` });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [201, 429, 429]);
    assert.equal(last!.headers.get('x-ratelimit-limit'), '3');
    assert.equal(last!.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(last!.headers.get('x-ratelimit-reset'), String(Math.ceil((frozen - (frozen % 1000) + 1000) / 1000)));
    assert.ok(Number(last!.headers.get('retry-after')) >= 1);
    assert.equal(((await last!.json()) as { error: string }).error, 'too_many_requests');
  });
});

describe('registration management (RFC 7592), behind its own flag', () => {
  const manage = (uri: string, token: string, init: RequestInit = {}) =>
    fetch(uri, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });

  test('off by default: no registration access token, and the management URI is refused', async () => {
    const body = (await (await register({ redirect_uris: ['https://managed.example/cb'] })).json()) as Record<string, any>;
    assert.equal(body.registration_access_token, undefined);
    const response = await manage(`${server.issuer}oidc/register/${body.client_id}`, 'anything');
    assert.equal(response.status, 403);
  });

  test('read, replace and delete a registration with its token; a wrong token gets 401', async () => {
    await server.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration_management: true } });
    const created = (await (
      await register({ client_name: 'Managed', redirect_uris: ['https://managed.example/cb'], token_endpoint_auth_method: 'none' })
    ).json()) as Record<string, any>;
    assert.ok(created.registration_access_token);
    assert.equal(created.registration_client_uri, `${server.issuer}oidc/register/${created.client_id}`);
    const uri = created.registration_client_uri as string;
    const token = created.registration_access_token as string;

    const read = await manage(uri, token);
    assert.equal(read.status, 200);
    const metadata = (await read.json()) as Record<string, any>;
    assert.deepEqual(metadata.redirect_uris, ['https://managed.example/cb']);
    assert.equal(metadata.client_name, 'Managed');
    assert.equal(metadata.registration_access_token, undefined, 'the token is shown once');

    assert.equal((await manage(uri, 'wrong-token')).status, 401);
    const other = (await (await register({ redirect_uris: ['https://other.example/cb'] })).json()) as Record<string, any>;
    assert.equal((await manage(other.registration_client_uri, token)).status, 401, "one client's token does not open another");
    assert.equal((await manage(`${server.issuer}oidc/register/${server.admin.clientId}`, token)).status, 401);

    const replaced = await manage(uri, token, {
      method: 'PUT',
      body: JSON.stringify({
        client_id: created.client_id,
        client_name: 'Managed v2',
        redirect_uris: ['https://managed.example/v2'],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    assert.equal(replaced.status, 200);
    const after = (await replaced.json()) as Record<string, any>;
    assert.deepEqual(after.redirect_uris, ['https://managed.example/v2']);
    assert.equal(after.token_endpoint_auth_method, 'client_secret_basic');
    assert.ok(after.client_secret, 'a client that became confidential gets its secret');
    const stored = await server.management('GET', `/clients/${created.client_id}`);
    assert.deepEqual(stored.body.callbacks, ['https://managed.example/v2']);
    assert.equal(stored.body.is_first_party, false);

    const badUpdate = await manage(uri, token, { method: 'PUT', body: JSON.stringify({ redirect_uris: ['http://evil.example/cb'] }) });
    assert.equal(((await badUpdate.json()) as { error: string }).error, 'invalid_redirect_uri');

    assert.equal((await manage(uri, token, { method: 'DELETE' })).status, 204);
    assert.equal((await server.management('GET', `/clients/${created.client_id}`)).status, 404);
    assert.equal((await manage(uri, token)).status, 401, 'gone, and the token with it');
  });
});
