import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LogEvent } from '../src/events/types.js';
import { authorizeUrl, Browser, callbackParams, formFields, pkcePair, signInWithPassword } from './helpers/http-login.js';
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

test('revoking a refresh token is srrt; deleting a user is sdu (and a sapi)', async () => {
  const user = await createUser(server, 'revoke@example.test');
  const browser = new Browser(server.issuer);
  const { code, verifier } = await authorizationCode(
    server,
    browser,
    { client_id: app.client_id, redirect_uri: redirectUri, scope: 'openid offline_access' },
    { email: 'revoke@example.test', password: TEST_PASSWORD },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  assert.ok(tokens.body.refresh_token, JSON.stringify(tokens.body));
  const revoked = await fetch(`${server.issuer}oauth/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: app.client_id, token: tokens.body.refresh_token }),
  });
  assert.equal(revoked.status, 200);
  const [srrt] = await eventsOf('type:srrt');
  assert.equal(srrt?.user_id, user.user_id);
  assert.equal(srrt?.client_id, app.client_id);

  assert.equal((await server.management('DELETE', `/users/${encodeURIComponent(user.user_id)}`)).status, 204);
  const [sdu] = await eventsOf('type:sdu');
  assert.equal(sdu?.user_id, user.user_id);
  const deletion = (await eventsOf('type:sapi')).filter(
    (e) => (e.details as { request?: { method?: string } }).request?.method === 'delete',
  );
  assert.equal(deletion.length, 1);
  assert.equal(deletion[0]!.description, 'DELETE /api/v2/users/:id');
});

test('a failing Action is actions_execution_failed; a dynamic registration is client_registered', async () => {
  const api = await server.management('POST', '/resource-servers', { identifier: 'https://flows.example/', name: 'Flows' });
  assert.equal(api.status, 201, JSON.stringify(api.body));
  const m2m = await createAppClient(server, { name: 'flows m2m', app_type: 'non_interactive', grant_types: ['client_credentials'] });
  const grant = await server.management('POST', '/client-grants', {
    client_id: m2m.client_id,
    audience: 'https://flows.example/',
    scope: [],
  });
  assert.equal(grant.status, 201, JSON.stringify(grant.body));
  const created = await server.management('POST', '/actions/actions', {
    name: 'throws',
    supported_triggers: [{ id: 'credentials-exchange', version: 'v2' }],
    code: "exports.onExecuteCredentialsExchange = async () => { throw new Error('boom in the action'); };",
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const deployed = await server.management('POST', `/actions/actions/${created.body.id}/deploy`);
  assert.ok(deployed.status === 200 || deployed.status === 202, JSON.stringify(deployed.body));
  const bound = await server.management('PATCH', '/actions/triggers/credentials-exchange/bindings', {
    bindings: [{ ref: { type: 'action_name', value: 'throws' }, display_name: 'throws' }],
  });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  const refused = await tokenRequest(server, {
    grant_type: 'client_credentials',
    client_id: m2m.client_id,
    client_secret: String(m2m.client_secret),
    audience: 'https://flows.example/',
  });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  const [failed] = await eventsOf('type:actions_execution_failed');
  assert.match(String(failed?.description), /boom in the action/);
  assert.equal((failed?.details as { trigger?: string } | undefined)?.trigger, 'credentials-exchange');

  const flag = await server.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } });
  assert.equal(flag.status, 200, JSON.stringify(flag.body));
  const registered = await fetch(`${server.issuer}oidc/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Self-registered', redirect_uris: ['https://self.example/cb'] }),
  });
  assert.equal(registered.status, 201);
  const { client_id: clientId, client_secret: secret } = (await registered.json()) as { client_id: string; client_secret: string };
  assert.ok(secret);
  const [event] = await eventsOf('type:client_registered');
  assert.equal(event?.client_id, clientId);
  assert.equal(event?.client_name, 'Self-registered');
  assert.ok(!JSON.stringify(await eventsOf(`client_id:${clientId}`)).includes(secret));
});

test('accepting a consent page is consent_given, then the sign-in is s', async () => {
  const user = await createUser(server, 'consent@example.test');
  const browser = new Browser(server.issuer);
  const { challenge } = pkcePair();
  const url = authorizeUrl(server.issuer, {
    response_type: 'code',
    client_id: app.client_id,
    redirect_uri: redirectUri,
    scope: 'openid profile',
    state: 'consent-state',
    prompt: 'consent',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const signedIn = await signInWithPassword(browser, url, 'consent@example.test', TEST_PASSWORD);
  assert.equal(signedIn.status, 302);
  const consentPath = signedIn.headers.get('location')!;
  assert.match(consentPath, /^\/u\/consent\?state=/);
  const fields = formFields(await (await browser.get(consentPath)).text());
  const accepted = await browser.postForm('/u/consent', { ...fields, action: 'accept' });
  assert.equal(accepted.status, 302);
  assert.ok(callbackParams(accepted).get('code'));
  const events = await eventsOf(`user_id:"${user.user_id}"`);
  assert.deepEqual(
    events.map((e) => e.type),
    ['consent_given', 's'],
  );
  assert.equal(events[0]!.client_id, app.client_id);
  assert.equal(events[0]!.scope, 'openid profile');
});
