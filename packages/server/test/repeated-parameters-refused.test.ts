/**
 * One rule for a repeated parameter everywhere (RFC 6749 §3.1: parameters MUST NOT be included more
 * than once): `invalid_request` naming the parameter, in each endpoint's own shape. On /authorize and
 * the hosted forms that is the error page (nothing is redirected on a request that cannot be read);
 * a repeated form field is never read as absent. Also: domain errors shown on hosted pages in the
 * domain's words, with no Management API prefixes to strip.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authorizeUrl, Browser, formFields, pkcePair } from './helpers/http-login.js';
import { assertStrictPage, decodeHtml } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createNativeApp } from './helpers/tenant.js';

let server: TestServer;
let machine: { client_id: string; client_secret?: string };
let nativeId: string;
const CALLBACK = 'http://127.0.0.1:50123/callback';

before(async () => {
  server = await startTestServer();
  machine = await createAppClient(server, { name: 'Machine', app_type: 'non_interactive', grant_types: ['client_credentials'] });
  nativeId = (
    await createNativeApp(server, [CALLBACK], {
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    })
  ).client_id;
});
after(() => server?.close());

const form = (path: string, body: string) =>
  fetch(`${server.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
    redirect: 'manual',
  });

async function assertNamed(response: Response, parameter: string) {
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: string; error_description: string };
  assert.equal(body.error, 'invalid_request');
  assert.equal(body.error_description, `Parameter ${parameter} must not be repeated`);
}

async function assertPageNames(response: Response, parameter: string) {
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null, 'never redirected');
  const body = await response.text();
  assertStrictPage(response, body);
  const text = decodeHtml(body);
  assert.match(text, new RegExp(`Parameter ${parameter} must not be repeated`));
}

describe('OAuth endpoints: 400 invalid_request naming the parameter', () => {
  test('/oauth/token', async () => {
    const secret = encodeURIComponent(machine.client_secret!);
    await assertNamed(
      await form(
        'oauth/token',
        `grant_type=client_credentials&client_id=${machine.client_id}&client_secret=${secret}&audience=a&audience=b`,
      ),
      'audience',
    );
    await assertNamed(await form('oauth/token', `grant_type=client_credentials&grant_type=password`), 'grant_type');
  });

  test('/oauth/revoke', async () => {
    await assertNamed(await form('oauth/revoke', `client_id=${nativeId}&token=a&token=b`), 'token');
  });

  test('/oauth/device/code', async () => {
    await assertNamed(await form('oauth/device/code', `client_id=${nativeId}&scope=openid&scope=profile`), 'scope');
  });

  test('parameters the endpoint does not read may repeat (unknown ones are ignored, as in Auth0)', async () => {
    const response = await form('oauth/device/code', `client_id=${nativeId}&scope=openid&auth0Client=a&auth0Client=b`);
    assert.equal(response.status, 200, await response.text());
  });
});

describe('browser endpoints: the error page names the parameter, nothing is redirected', () => {
  test('/authorize (GET and POST)', async () => {
    const { challenge } = pkcePair();
    const url = authorizeUrl(server.issuer, {
      client_id: nativeId,
      redirect_uri: CALLBACK,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 's1',
    });
    url.searchParams.append('state', 's2');
    await assertPageNames(await fetch(url, { redirect: 'manual' }), 'state');
    const body = new URLSearchParams(url.search);
    await assertPageNames(await form('authorize', body.toString()), 'state');
  });

  test('/v2/logout and /oidc/logout', async () => {
    await assertPageNames(
      await fetch(`${server.issuer}v2/logout?client_id=${nativeId}&returnTo=${CALLBACK}&returnTo=${CALLBACK}`, { redirect: 'manual' }),
      'returnTo',
    );
    await assertPageNames(await fetch(`${server.issuer}oidc/logout?state=a&state=b`, { redirect: 'manual' }), 'state');
  });

  test('hosted forms: a repeated field is the error page, not a silent absence', async () => {
    const browser = new Browser(server.issuer);
    const { challenge } = pkcePair();
    const start = await browser.get(
      authorizeUrl(server.issuer, {
        client_id: nativeId,
        redirect_uri: CALLBACK,
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    const page = await browser.get(start.headers.get('location')!);
    const fields = formFields(await page.text());
    const body = new URLSearchParams({ ...fields, username: 'a@example.com', password: 'x' });
    body.append('username', 'b@example.com');
    await assertPageNames(
      await browser.request('/u/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }),
      'username',
    );
  });
});

describe('domain errors on hosted pages, in the domain words', () => {
  test('sign-up: a weak password and a malformed email are shown without Management API prefixes', async () => {
    const browser = new Browser(server.issuer);
    const { challenge } = pkcePair();
    const start = await browser.get(
      authorizeUrl(server.issuer, {
        client_id: nativeId,
        redirect_uri: CALLBACK,
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        screen_hint: 'signup',
      }),
    );
    let location = start.headers.get('location')!;
    if (!location.startsWith('/u/signup')) location = location.replace('/u/login', '/u/signup');
    const fields = formFields(await (await browser.get(location)).text());
    const weak = await browser.postForm('/u/signup', { ...fields, email: 'weak@example.com', password: 'short' });
    assert.equal(weak.status, 400);
    const weakText = decodeHtml(await weak.text());
    assert.match(weakText, /role="alert"[^>]*>[^<]*[Pp]assword/);
    assert.doesNotMatch(weakText, /PasswordStrengthError|Payload validation error/);
    const malformed = await browser.postForm('/u/signup', { ...fields, email: 'not-an-email', password: 'Correct-horse-42' });
    assert.equal(malformed.status, 400);
    const malformedText = decodeHtml(await malformed.text());
    assert.match(malformedText, /'email' is not a valid email address/);
    assert.doesNotMatch(malformedText, /Payload validation error/);
  });
});
