import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { digestToken } from '../src/oauth/user-tokens.js';
import { authorizeUrl, Browser, callbackParams, formFields, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { claimsOf, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * An SSO session stands for a sign-in through one connection, so it answers only apps that may use
 * that connection: the same rule as the login page (enabled_clients; domain connections for
 * third-party apps; the connection a request names). Anything else gets the login page for that
 * app, or login_required for prompt=none, at /authorize, on the consent page and at /activate.
 */
const EMAIL = 'sso-rules@example.test';
const CALLBACK = 'http://127.0.0.1/callback';
const REDIRECT = 'http://127.0.0.1:50777/callback';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let server: TestServer;
let home: { client_id: string };
let sibling: { client_id: string };
let orphan: { client_id: string };
let databaseConnectionId: string;
let userId: string;

before(async () => {
  server = await startTestServer({ config: { registrationRateLimit: 1000 } });
  home = await createNativeApp(server, [CALLBACK], { name: 'Home App' });
  sibling = await createNativeApp(server, [CALLBACK], { name: 'Sibling App' });
  // (a) An app enabled on no connection at all.
  const created = await server.management('POST', '/clients', {
    name: 'Orphan App',
    app_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    callbacks: [CALLBACK],
  });
  assert.equal(created.status, 201);
  orphan = created.body;
  // (c) A second database connection the home app may also use; the user is not on it.
  const employees = await server.management('POST', '/connections', {
    name: 'Employees',
    strategy: 'auth0',
    enabled_clients: [home.client_id],
  });
  assert.equal(employees.status, 201, JSON.stringify(employees.body));
  databaseConnectionId = (await server.management('GET', '/connections?name=Username-Password-Authentication')).body[0].id;
  userId = (await createUser(server, EMAIL)).user_id;
});
after(() => server?.close());

const setDomainConnection = async (on: boolean) => {
  const patched = await server.management('PATCH', `/connections/${databaseConnectionId}`, { is_domain_connection: on });
  assert.equal(patched.status, 200);
};

function authorize(clientId: string, params: Record<string, string> = {}): { url: URL; verifier: string } {
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(server.issuer, {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid profile',
    state: 'sso-state',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  });
  return { url, verifier };
}

/** A browser signed in through the database connection, by the home app. */
async function signedInBrowser(): Promise<Browser> {
  const browser = new Browser(server.issuer);
  const response = await signInWithPassword(browser, authorize(home.client_id).url, EMAIL, TEST_PASSWORD);
  assert.ok(callbackParams(response).get('code'));
  return browser;
}

function assertLoginRequired(response: Response): void {
  const params = callbackParams(response);
  assert.equal(params.get('error'), 'login_required', response.headers.get('location')!);
  assert.equal(params.get('code'), null);
  assert.equal(params.get('state'), 'sso-state');
}

/** The answer is the hosted login page (a sign-in for this app), not a code or a consent page. */
async function assertLoginPage(browser: Browser, response: Response): Promise<{ status: number; body: string }> {
  assert.equal(response.status, 302);
  const location = response.headers.get('location')!;
  assert.match(location, /^\/u\/login\?state=/);
  const page = await browser.get(location);
  return { status: page.status, body: await page.text() };
}

describe('the session still does SSO for apps that may use its connection', () => {
  test('prompt=none for another app on the same connection: a code that redeems to an id_token for that app', async () => {
    const browser = await signedInBrowser();
    const { url, verifier } = authorize(sibling.client_id, { prompt: 'none' });
    const params = callbackParams(await browser.get(url));
    const code = params.get('code');
    assert.ok(code, 'SSO answers at once');
    const tokens = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: sibling.client_id,
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const claims = claimsOf(tokens.body.id_token);
    assert.equal(claims.aud, sibling.client_id);
    assert.equal(claims.sub, userId);
  });

  test("connection= naming the session's own connection is answered by the session", async () => {
    const browser = await signedInBrowser();
    const response = await browser.get(authorize(home.client_id, { prompt: 'none', connection: 'Username-Password-Authentication' }).url);
    assert.ok(callbackParams(response).get('code'));
  });
});

describe('the session does not answer apps that may not use its connection', () => {
  test('(a) an app enabled on no connection: login_required, and the login page says no connection is enabled', async () => {
    const browser = await signedInBrowser();
    assertLoginRequired(await browser.get(authorize(orphan.client_id, { prompt: 'none' }).url));
    const page = await assertLoginPage(browser, await browser.get(authorize(orphan.client_id).url));
    assert.equal(page.status, 400);
    assert.match(page.body, /No database connection is enabled for this application/);
  });

  test('(b) a registered third-party app while the database connection is not a domain connection', async () => {
    assert.equal(
      (await server.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } })).status,
      200,
    );
    const registered = await fetch(`${server.issuer}oidc/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Home App', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(registered.status, 201);
    const thirdParty = (await registered.json()) as { client_id: string };
    const browser = await signedInBrowser();

    // Not a domain connection: the login page (which explains) or login_required, never consent.
    await setDomainConnection(false);
    assertLoginRequired(await browser.get(authorize(thirdParty.client_id, { prompt: 'none' }).url));
    const page = await assertLoginPage(browser, await browser.get(authorize(thirdParty.client_id).url));
    assert.equal(page.status, 400);
    assert.match(page.body, /Third-party applications can only sign in through domain connections/);

    // As a domain connection, the session serves third-party apps too: on to their consent page...
    await setDomainConnection(true);
    const consent = await browser.get(authorize(thirdParty.client_id).url);
    assert.match(consent.headers.get('location')!, /^\/u\/consent\?state=/);
    // ...which no longer accepts once the connection is taken back.
    await setDomainConnection(false);
    const open = await browser.get(consent.headers.get('location')!);
    assert.equal(open.status, 400);
    assert.match(await open.text(), /Sign-in expired/);
  });

  test('(c) connection= naming another connection: login_required, and the login page for it', async () => {
    const browser = await signedInBrowser();
    assertLoginRequired(await browser.get(authorize(home.client_id, { prompt: 'none', connection: 'Employees' }).url));
    const page = await assertLoginPage(browser, await browser.get(authorize(home.client_id, { connection: 'Employees' }).url));
    assert.equal(page.status, 200);
    assert.match(page.body, /name="password"/);
  });

  test('a session that recorded no connection (made before the upgrade) answers no one', async () => {
    const cookie = randomBytes(32).toString('base64url');
    const now = new Date().toISOString();
    await server.ctx.storage.sessions.create(digestToken(cookie), {
      sid: randomBytes(16).toString('base64url'),
      userId,
      authTime: now,
      lastSeenAt: now,
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      endedAt: null,
    });
    const browser = new Browser(server.issuer);
    browser.cookies.set('latchkey_session', cookie);
    assertLoginRequired(await browser.get(authorize(home.client_id, { prompt: 'none' }).url));
  });
});

describe('device approval with an existing session', () => {
  async function deviceCodeFor(clientId: string): Promise<{ device_code: string; user_code: string }> {
    const response = await fetch(`${server.issuer}oauth/device/code`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: clientId, scope: 'openid' }),
    });
    assert.equal(response.status, 200);
    return (await response.json()) as { device_code: string; user_code: string };
  }

  async function activateCsrf(browser: Browser): Promise<string> {
    return formFields(await (await browser.get('/activate')).text()).csrf!;
  }

  test("an app the session's connection is not enabled for: sign in again, no confirmation, no approval", async () => {
    const employeesOnly = await server.management('POST', '/clients', {
      name: 'Build Agent',
      app_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_GRANT],
    });
    const {
      body: [employees],
    } = await server.management('GET', '/connections?name=Employees');
    await server.management('PATCH', `/connections/${employees.id}`, {
      enabled_clients: [...employees.enabled_clients, employeesOnly.body.client_id],
    });
    const started = await deviceCodeFor(employeesOnly.body.client_id);
    const browser = await signedInBrowser();

    const entered = await browser.postForm('/activate', { csrf: await activateCsrf(browser), user_code: started.user_code });
    assert.equal(entered.status, 302, 'a login transaction for the device app, not the confirmation page');
    assert.match(entered.headers.get('location')!, /^\/u\/login\?state=/);

    const confirmPage = await browser.get(`/activate/confirm?user_code=${started.user_code}`);
    assert.doesNotMatch(await confirmPage.text(), /value="confirm"/);

    const posted = await browser.postForm('/activate/confirm', {
      csrf: await activateCsrf(browser),
      user_code: started.user_code,
      action: 'confirm',
    });
    assert.doesNotMatch(await posted.text(), /Device connected/);
    const poll = await tokenRequest(server, {
      grant_type: DEVICE_GRANT,
      client_id: employeesOnly.body.client_id,
      device_code: started.device_code,
    });
    assert.equal(poll.body.error, 'authorization_pending', 'the device was not approved');
  });

  test("an app on the session's connection: the confirmation page at once", async () => {
    const agent = await createNativeApp(server, [], { name: 'Sibling Agent', grant_types: [DEVICE_GRANT] });
    const started = await deviceCodeFor(agent.client_id);
    const browser = await signedInBrowser();
    const entered = await browser.postForm('/activate', { csrf: await activateCsrf(browser), user_code: started.user_code });
    assert.equal(entered.status, 200);
    assert.match(await entered.text(), /value="confirm"/);
    const posted = await browser.postForm('/activate/confirm', {
      csrf: await activateCsrf(browser),
      user_code: started.user_code,
      action: 'confirm',
    });
    assert.match(await posted.text(), /Device connected/);
  });
});
