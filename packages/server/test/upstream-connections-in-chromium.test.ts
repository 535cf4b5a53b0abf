import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import Provider from 'oidc-provider';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newContext } from './helpers/chromium.js';
import { pkcePair } from './helpers/http-login.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'screenshots');
const UPSTREAM_CLIENT = { id: 'latchkey-upstream', secret: 'upstream-secret-0123456789-abcdefghijklmnopqrstuvwxyz' };
const CALLBACK = 'http://127.0.0.1:4100/callback';

let server: TestServer;
let browser: Browser;
let upstream: Server;
let upstreamUrl: string;
let clientId: string;
/** A page of the app, really served, for the tests that follow the browser back to the app. */
let app: Server;
let appCallback: string;
let loggedOut: string;
/** Set while a test plays the mix-up attacker; `sentIss` is what the provider itself sent. */
let tamperIss = false;
let sentIss: string | null = null;

/** The reference OpenID provider, as an independent upstream: any login name signs in as that user. */
async function startUpstream(latchkeyIssuer: string): Promise<Server> {
  const port = await freePort();
  upstreamUrl = `http://127.0.0.1:${port}`;
  const provider = new Provider(upstreamUrl, {
    clients: [
      {
        client_id: UPSTREAM_CLIENT.id,
        client_secret: UPSTREAM_CLIENT.secret,
        redirect_uris: [`${latchkeyIssuer}login/callback`],
        post_logout_redirect_uris: [loggedOut],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        claims: async () => ({ sub: id, email: `${id}@upstream.test`, email_verified: true, name: `Upstream ${id}` }),
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    pkce: { required: () => false },
    cookies: { keys: ['upstream cookie key for tests only'] },
  });
  const handle = provider.callback();
  // As a mix-up attacker relays it: the provider's redirect back, with another provider's `iss`.
  const listening = createServer((request, response) => {
    const setHeader = response.setHeader.bind(response);
    response.setHeader = (name, value) => {
      if (tamperIss && name.toLowerCase() === 'location' && String(value).startsWith(`${latchkeyIssuer}login/callback`)) {
        const url = new URL(String(value));
        sentIss = url.searchParams.get('iss');
        url.searchParams.set('iss', 'https://other-provider.example.test');
        value = url.href;
      }
      return setHeader(name, value);
    };
    return handle(request, response);
  });
  await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
  return listening;
}

const PROFILE_SCRIPT = (userinfo: string) => `function fetchUserProfile(accessToken, context, callback) {
  request.get({ url: '${userinfo}', headers: { Authorization: 'Bearer ' + accessToken } }, function (err, resp, body) {
    if (err) return callback(err);
    if (resp.statusCode !== 200) return callback(new Error('userinfo answered ' + resp.statusCode));
    var info = JSON.parse(body);
    callback(null, { user_id: info.sub, email: info.email, name: info.name, email_verified: info.email_verified });
  });
}`;

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  const appPort = await freePort();
  app = createServer((_request, response) => response.end('the app'));
  await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
  appCallback = `http://127.0.0.1:${appPort}/callback`;
  loggedOut = `http://127.0.0.1:${appPort}/logged-out`;
  upstream = await startUpstream(server.issuer);
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'], { name: 'Upstream Demo', allowed_logout_urls: [loggedOut] }))
    .client_id;
  const common = { client_id: UPSTREAM_CLIENT.id, client_secret: UPSTREAM_CLIENT.secret };
  for (const [name, strategy, options] of [
    [
      'acme-oauth',
      'oauth2',
      {
        ...common,
        authorizationURL: `${upstreamUrl}/auth`,
        tokenURL: `${upstreamUrl}/token`,
        scope: 'openid email profile',
        scripts: { fetchUserProfile: PROFILE_SCRIPT(`${upstreamUrl}/me`) },
      },
    ],
    ['acme-oidc', 'oidc', { ...common, discovery_url: `${upstreamUrl}/.well-known/openid-configuration`, scope: 'openid email profile' }],
    [
      'broken-script',
      'oauth2',
      {
        ...common,
        authorizationURL: `${upstreamUrl}/auth`,
        tokenURL: `${upstreamUrl}/token`,
        scope: 'openid',
        scripts: { fetchUserProfile: 'function (token, ctx, cb) { throw new Error("profile service is down"); }' },
      },
    ],
  ] as const) {
    const created = await server.management('POST', '/connections', { name, strategy, options, enabled_clients: [clientId] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
});

after(async () => {
  await browser?.close();
  upstream?.close();
  app?.close();
  await server?.close();
});

function authorizeUrl(extra: Record<string, string> = {}): { url: string; verifier: string } {
  const { verifier, challenge } = pkcePair();
  const url = new URL(`${server.issuer}authorize`);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: CALLBACK,
    scope: 'openid profile email',
    state: 'app-state',
    nonce: 'app-nonce',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  }))
    url.searchParams.set(k, v);
  return { url: url.href, verifier };
}

/** At the upstream provider: its own login form, then its consent screen (or Cancel). */
async function upstreamSignIn(page: Page, login: string, cancel = false): Promise<URL> {
  const back = page.waitForResponse((r) => r.url().startsWith(`${server.issuer}login/callback`));
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  if (cancel) await page.getByText('[ Cancel ]').click();
  else await page.getByRole('button', { name: 'Continue' }).click();
  const response = await back;
  assert.equal(response.status(), 302);
  return new URL(response.headers().location!);
}

async function redeem(code: string, verifier: string, redirectUri = CALLBACK) {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    }),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as { id_token: string };
}

async function signInThrough(connection: string, login: string) {
  const { context, page } = await newContext(browser);
  const { url, verifier } = authorizeUrl({ connection });
  await page.goto(url);
  assert.equal(new URL(page.url()).origin, upstreamUrl, 'connection=NAME goes straight to the provider');
  const back = await upstreamSignIn(page, login);
  await context.close();
  assert.equal(back.origin + back.pathname, CALLBACK);
  assert.equal(back.searchParams.get('state'), 'app-state');
  const tokens = await redeem(back.searchParams.get('code')!, verifier);
  return decodeJwt(tokens.id_token);
}

test('a custom OAuth2 connection: the profile script calls the provider; the user is oauth2|NAME|id, updated not duplicated', async () => {
  const first = await signInThrough('acme-oauth', 'alice');
  assert.equal(first.sub, 'oauth2|acme-oauth|alice');
  assert.equal(first.email, 'alice@upstream.test');
  assert.equal(first.nonce, 'app-nonce');
  const second = await signInThrough('acme-oauth', 'alice');
  assert.equal(second.sub, first.sub);

  const user = await server.management(
    'GET',
    `/users/${encodeURIComponent('oauth2|acme-oauth|alice')}`,
    undefined,
    await server.managementToken('read:users'),
  );
  assert.equal(user.body.logins_count, 2);
  assert.equal(user.body.name, 'Upstream alice');
  assert.deepEqual(user.body.identities, [{ connection: 'acme-oauth', user_id: 'alice', provider: 'oauth2', isSocial: true }]);
  const all = await server.management('GET', '/users?per_page=100');
  assert.equal(all.body.filter((u: { user_id: string }) => u.user_id.startsWith('oauth2|acme-oauth|')).length, 1);

  // The upstream tokens are kept, encrypted, and shown only with read:user_idp_tokens.
  const withTokens = await server.management(
    'GET',
    `/users/${encodeURIComponent('oauth2|acme-oauth|alice')}`,
    undefined,
    await server.managementToken('read:users read:user_idp_tokens'),
  );
  assert.equal(typeof withTokens.body.identities[0].access_token, 'string');
  const stored = await server.ctx.storage.users.get('oauth2|acme-oauth|alice');
  assert.notEqual(stored!.user.identities[0]!.access_token, withTokens.body.identities[0].access_token, 'stored encrypted');
});

test('an OIDC connection through discovery: id_token verified, the user is oidc|NAME|sub', async () => {
  const claims = await signInThrough('acme-oidc', 'bob');
  assert.equal(claims.sub, 'oidc|acme-oidc|bob');
  assert.equal(claims.email, 'bob@upstream.test');
  assert.equal((await signInThrough('acme-oidc', 'bob')).sub, claims.sub);
  const user = await server.management('GET', `/users/${encodeURIComponent('oidc|acme-oidc|bob')}`);
  assert.equal(user.body.logins_count, 2);
});

test('the login page offers a button per enabled upstream connection', async () => {
  const { context, page, problems } = await newContext(browser);
  const { url, verifier } = authorizeUrl();
  await page.goto(url);
  await page.getByRole('link', { name: 'Continue with acme-oidc' }).waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, 'login-with-upstream-desktop.png'), fullPage: true });
  await page.getByRole('link', { name: 'Continue with acme-oidc' }).click();
  const back = await upstreamSignIn(page, 'carol');
  const tokens = await redeem(back.searchParams.get('code')!, verifier);
  assert.equal(decodeJwt(tokens.id_token).sub, 'oidc|acme-oidc|carol');
  assert.deepEqual(problems, []);
  await context.close();
});

test("a mix-up is refused on latchkey's own page: a callback with another issuer's iss, or a discovery naming another issuer", async () => {
  const { context, page, problems } = await newContext(browser);
  tamperIss = true;
  await page.goto(authorizeUrl({ connection: 'acme-oidc' }).url);
  await page.locator('input[name=login]').fill('mallory');
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
  tamperIss = false;
  assert.equal(new URL(page.url()).pathname, '/login/callback', 'no redirect to the app');
  assert.equal(sentIss, upstreamUrl, 'oidc-provider sends its iss');
  assert.match(await page.locator('body').innerText(), /unexpected "iss"/);
  await page.screenshot({ path: join(SCREENSHOTS, 'upstream-refused-desktop.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
  const users = await server.management('GET', '/users?per_page=100');
  assert.equal(
    users.body.some((u: { user_id: string }) => u.user_id.endsWith('|mallory')),
    false,
  );

  // A connection whose configured issuer is not the one its discovery document names.
  const created = await server.management('POST', '/connections', {
    name: 'acme-impostor',
    strategy: 'oidc',
    options: {
      client_id: UPSTREAM_CLIENT.id,
      discovery_url: `${upstreamUrl}/.well-known/openid-configuration`,
      issuer: 'https://acme.example.test',
    },
    enabled_clients: [clientId],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const second = await newContext(browser);
  await second.page.goto(authorizeUrl({ connection: 'acme-impostor' }).url);
  await second.page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
  assert.equal(new URL(second.page.url()).origin, new URL(server.issuer).origin, 'the browser never left for the provider');
  assert.match(await second.page.locator('body').innerText(), /issuer/);
  await second.context.close();
});

test('a denial upstream comes back to the app as access_denied; a failing script as server_error', async () => {
  let { context, page } = await newContext(browser);
  await page.goto(authorizeUrl({ connection: 'acme-oauth' }).url);
  const denied = await upstreamSignIn(page, 'dave', true);
  assert.equal(denied.searchParams.get('error'), 'access_denied');
  assert.equal(denied.searchParams.get('state'), 'app-state');
  await context.close();

  ({ context, page } = await newContext(browser));
  await page.goto(authorizeUrl({ connection: 'broken-script' }).url);
  const failed = await upstreamSignIn(page, 'erin');
  assert.equal(failed.searchParams.get('error'), 'server_error');
  assert.match(
    failed.searchParams.get('error_description')!,
    /fetchUserProfile script of connection broken-script failed: .*profile service is down/,
  );
  await context.close();
});

/** Signs in through acme-oidc, leaving both sessions (latchkey's, the provider's) open in this context. */
async function signInKeepingSessions(page: Page, login: string) {
  const { url, verifier } = authorizeUrl({ connection: 'acme-oidc', redirect_uri: appCallback });
  await page.goto(url);
  const back = await upstreamSignIn(page, login);
  await page.waitForURL(`${appCallback}?**`);
  return { code: back.searchParams.get('code')!, verifier };
}

/** Whether latchkey still has a session in this context: prompt=none answers with a code, or login_required. */
async function latchkeySignedIn(page: Page): Promise<boolean> {
  await page.goto(authorizeUrl({ prompt: 'none', redirect_uri: appCallback }).url);
  const answer = new URL(page.url());
  assert.equal(answer.origin + answer.pathname, appCallback);
  return answer.searchParams.has('code');
}

test("federated logout through an OIDC connection ends the provider's session too, then returns to the app", async () => {
  const { context, page } = await newContext(browser);
  await signInKeepingSessions(page, 'frank');
  assert.equal(await latchkeySignedIn(page), true);

  const logout = new URL(`${server.issuer}v2/logout`);
  logout.searchParams.set('client_id', clientId);
  logout.searchParams.set('returnTo', loggedOut);
  const answer = page.waitForResponse((r) => r.url().startsWith(`${server.issuer}v2/logout`));
  await page.goto(`${logout.href}&federated`);
  const upstreamLogout = new URL((await answer).headers().location!);
  assert.equal(upstreamLogout.origin + upstreamLogout.pathname, `${upstreamUrl}/session/end`);
  assert.equal(upstreamLogout.searchParams.get('client_id'), UPSTREAM_CLIENT.id);
  assert.equal(upstreamLogout.searchParams.get('post_logout_redirect_uri'), loggedOut);
  assert.equal(decodeJwt(upstreamLogout.searchParams.get('id_token_hint')!).sub, 'frank', "the provider's own id_token is the hint");

  // The provider asks; once confirmed, it returns the browser to the app's logout URL.
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL(loggedOut);
  assert.equal(await latchkeySignedIn(page), false);
  // The provider's session is gone too: signing in again shows its login form.
  await page.goto(authorizeUrl({ connection: 'acme-oidc', redirect_uri: appCallback }).url);
  await page.locator('input[name=login]').waitFor({ timeout: 5000 });
  assert.equal(new URL(page.url()).origin, upstreamUrl);
  await context.close();
});

test("/oidc/logout with federated and an id_token_hint: the provider gets the app's return URL and state", async () => {
  const { context, page } = await newContext(browser);
  const { code, verifier } = await signInKeepingSessions(page, 'heidi');
  const { id_token } = await redeem(code, verifier, appCallback);
  const logout = new URL(`${server.issuer}oidc/logout`);
  for (const [k, v] of Object.entries({
    id_token_hint: id_token,
    post_logout_redirect_uri: loggedOut,
    state: 'app-logout-state',
    federated: '',
  }))
    logout.searchParams.set(k, v);
  const answer = page.waitForResponse((r) => r.url().startsWith(`${server.issuer}oidc/logout`));
  await page.goto(logout.href);
  const upstreamLogout = new URL((await answer).headers().location!);
  assert.equal(upstreamLogout.origin + upstreamLogout.pathname, `${upstreamUrl}/session/end`);
  assert.equal(upstreamLogout.searchParams.get('post_logout_redirect_uri'), loggedOut);
  assert.equal(upstreamLogout.searchParams.get('state'), 'app-logout-state');
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL(`${loggedOut}?state=app-logout-state`);
  assert.equal(await latchkeySignedIn(page), false);
  await context.close();
});

test("without federated, logout leaves the provider's session alone", async () => {
  const { context, page } = await newContext(browser);
  await signInKeepingSessions(page, 'grace');
  await page.goto(`${server.issuer}v2/logout?client_id=${clientId}&returnTo=${encodeURIComponent(loggedOut)}`);
  assert.equal(page.url(), loggedOut);
  assert.equal(await latchkeySignedIn(page), false);
  // Still signed in upstream: the provider sends the browser straight back, with no login form.
  await page.goto(authorizeUrl({ connection: 'acme-oidc', redirect_uri: appCallback }).url);
  const back = new URL(page.url());
  assert.equal(back.origin + back.pathname, appCallback);
  assert.ok(back.searchParams.get('code'));
  await context.close();
});

test('the Management API hides upstream client secrets unless the token may read connection options', async () => {
  const list = await server.management('GET', '/connections?strategy=oauth2', undefined, await server.managementToken('read:connections'));
  assert.ok(list.body.length >= 2);
  for (const connection of list.body) {
    assert.equal(connection.options.client_secret, undefined);
    assert.equal(connection.options.client_secret_sealed, undefined);
  }
  const id = list.body.find((c: { name: string }) => c.name === 'acme-oauth').id;
  const allowed = await server.management(
    'GET',
    `/connections/${id}`,
    undefined,
    await server.managementToken('read:connections read:connections_options'),
  );
  assert.equal(allowed.body.options.client_secret, UPSTREAM_CLIENT.secret);
  const bad = await server.management('POST', '/connections', { name: 'incomplete', strategy: 'oauth2', options: { client_id: 'x' } });
  assert.equal(bad.status, 400);
});
