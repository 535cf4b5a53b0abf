import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { authorizeUrl, Browser, pkcePair } from './helpers/http-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

/**
 * A request that names its connection (connection=NAME) is signed in through that connection only:
 * its login page offers no other, and `/u/upstream` must not take the user to another provider either
 * (the app may rely on where its user signed in, e.g. an enterprise connection).
 */
const CALLBACK = 'http://127.0.0.1/callback';

let server: TestServer;
let clientId: string;

before(async () => {
  server = await startTestServer();
  clientId = (await createNativeApp(server, [CALLBACK], { name: 'Named Connection App' })).client_id;
  const created = await server.management('POST', '/connections', {
    name: 'social-provider',
    strategy: 'oauth2',
    options: {
      client_id: 'latchkey',
      client_secret: 'provider-secret',
      authorizationURL: 'http://127.0.0.1:9/authorize',
      tokenURL: 'http://127.0.0.1:9/token',
      scripts: { fetchUserProfile: 'function (accessToken, ctx, cb) { cb(null, { user_id: "1" }); }' },
    },
    enabled_clients: [clientId],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
});
after(() => server?.close());

async function loginPageState(browser: Browser, params: Record<string, string>): Promise<string> {
  const { challenge } = pkcePair();
  const url = authorizeUrl(server.issuer, {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: 'http://127.0.0.1:50123/callback',
    scope: 'openid',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  });
  const response = await browser.get(url);
  const location = response.headers.get('location')!;
  assert.match(location, /^\/u\/login\?state=/);
  return new URL(location, server.issuer).searchParams.get('state')!;
}

test('without connection=, the provider button leads to the provider', async () => {
  const browser = new Browser(server.issuer);
  const state = await loginPageState(browser, {});
  const response = await browser.get(`/u/upstream?state=${state}&connection=social-provider`);
  assert.equal(response.status, 302);
  assert.match(response.headers.get('location')!, /^http:\/\/127\.0\.0\.1:9\/authorize\?/);
});

test('connection= naming the database connection: /u/upstream refuses another provider', async () => {
  const browser = new Browser(server.issuer);
  const state = await loginPageState(browser, { connection: 'Username-Password-Authentication' });
  const response = await browser.get(`/u/upstream?state=${state}&connection=social-provider`);
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null, 'the browser is not sent to the provider');
});
