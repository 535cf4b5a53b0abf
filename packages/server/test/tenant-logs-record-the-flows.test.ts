import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LogEvent } from '../src/events/types.js';
import { Browser } from './helpers/http-login.js';
import { authorizationCode, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/** The flows that Auth0 logs leave the events Auth0 would show, over HTTP as apps make them. */
let server: TestServer;
let app: { client_id: string };
const callback = 'http://127.0.0.1/callback';
const redirectUri = 'http://127.0.0.1:50500/callback';
const loggedOut = 'http://127.0.0.1/logged-out';

before(async () => {
  server = await startTestServer();
  app = await createNativeApp(server, [callback], { name: 'Flows App', allowed_logout_urls: [loggedOut] });
});

after(() => server?.close());

async function eventsOf(q: string): Promise<LogEvent[]> {
  await server.ctx.events.flush();
  const found = await server.management('GET', `/logs?q=${encodeURIComponent(q)}&per_page=100&sort=date:1`);
  assert.equal(found.status, 200, JSON.stringify(found.body));
  return found.body;
}

const signup = (email: string, password: string) =>
  fetch(`${server.issuer}dbconnections/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: app.client_id, connection: 'Username-Password-Authentication', email, password }),
  });

test('a sign-up is ss, a refused one fs', async () => {
  assert.equal((await signup('new-user@example.test', TEST_PASSWORD)).status, 200);
  assert.equal((await signup('new-user@example.test', TEST_PASSWORD)).status, 400);
  const [ss] = await eventsOf('type:ss');
  assert.equal(ss?.user_name, 'new-user@example.test');
  assert.equal(ss?.client_id, app.client_id);
  assert.match(String(ss?.user_id), /^auth0\|/);
  const [fs] = await eventsOf('type:fs');
  assert.equal(fs?.user_name, 'new-user@example.test');
  assert.equal((fs?.details as { error?: string } | undefined)?.error, 'user_exists');
  assert.ok(!JSON.stringify([ss, fs]).includes(TEST_PASSWORD));
});

test('too many wrong passwords lock the account: limit_wc, after ten fp', async () => {
  const user = await createUser(server, 'locked@example.test');
  const passwordApp = await createAppClient(server, {
    name: 'Password app',
    app_type: 'regular_web',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['password', 'http://auth0.com/oauth/grant-type/password-realm'],
    callbacks: ['https://web.example.test/callback'],
  });
  const attempt = (password: string) =>
    tokenRequest(server, {
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      realm: 'Username-Password-Authentication',
      client_id: passwordApp.client_id,
      client_secret: passwordApp.client_secret!,
      username: 'locked@example.test',
      password,
    });
  for (let i = 0; i < 10; i++) {
    const refused = await attempt(`wrong-${i}`);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
  }
  const locked = await attempt(TEST_PASSWORD);
  assert.equal(locked.status, 429, JSON.stringify(locked.body));
  const events = await eventsOf(`user_id:"${user.user_id}"`);
  assert.deepEqual(
    events.map((e) => e.type),
    [...Array(10).fill('fp'), 'limit_wc'],
    'each failure once: the password grant adds no fepft of its own',
  );
  assert.equal(events.at(-1)!.client_id, passwordApp.client_id);
});

test('a logout is slo with the user and the app; a client_credentials failure is feccft', async () => {
  const user = await createUser(server, 'logout@example.test');
  const browser = new Browser(server.issuer);
  await authorizationCode(
    server,
    browser,
    { client_id: app.client_id, redirect_uri: redirectUri },
    { email: 'logout@example.test', password: TEST_PASSWORD },
  );
  const out = await browser.get(`/v2/logout?client_id=${app.client_id}&returnTo=${encodeURIComponent(loggedOut)}`);
  assert.equal(out.status, 302);
  const [slo] = await eventsOf('type:slo');
  assert.equal(slo?.user_id, user.user_id);
  assert.equal(slo?.client_id, app.client_id);
  assert.equal(slo?.client_name, 'Flows App');
  // Logging out again (no session) records nothing more.
  await browser.get(`/v2/logout?client_id=${app.client_id}`);
  assert.equal((await eventsOf('type:slo')).length, 1);

  const failed = await tokenRequest(server, {
    grant_type: 'client_credentials',
    client_id: 'no-such-client',
    client_secret: 'x',
    audience: 'y',
  });
  assert.equal(failed.status, 401);
  const [feccft] = await eventsOf('type:feccft');
  assert.equal(feccft?.client_id, 'no-such-client');
  assert.equal((feccft?.details as { error?: string } | undefined)?.error, 'invalid_client');
  assert.ok(!JSON.stringify(feccft).includes('"x"'));
});
