import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const API = 'https://api.example.test/';
const EMAIL = 'ada@example.com';

let server: TestServer;
let browser: Browser;
let api: Server;
let apiUrl: string;

/** The Express API of the Auth0 tutorials, guarded by express-oauth2-jwt-bearer. */
async function startApi(issuer: string): Promise<Server> {
  const app = express();
  app.get('/private', auth({ issuerBaseURL: issuer, audience: API }), (req, res) => {
    res.json({ message: 'private', sub: req.auth?.payload.sub });
  });
  // The API's own error answer (express would otherwise log the stack of every refused token).
  app.use((err: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.message });
  });
  const listening = createServer(app);
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return listening;
}

/** The loopback listener a native app opens for one sign-in (RFC 8252 §7.3). */
async function loopbackListener(): Promise<{ port: number; callback: Promise<URL>; close(): void }> {
  let resolveCallback!: (url: URL) => void;
  const callback = new Promise<URL>((resolve) => (resolveCallback = resolve));
  const listener = createServer((req, res) => {
    const url = new URL(req.url!, `http://127.0.0.1:${(listener.address() as AddressInfo).port}`);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>You are signed in. You may close this tab.</p>');
    if (url.pathname === '/callback') resolveCallback(url);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return { port: (listener.address() as AddressInfo).port, callback, close: () => listener.close() };
}

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  await createApi(server, API);
  await createUser(server, EMAIL);
  api = await startApi(server.issuer);
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

after(async () => {
  await browser?.close();
  api?.close();
  await server?.close();
});

test('openid-client as a native app: loopback sign-in, userinfo, API call, refresh rotation with reuse detection, logout', async () => {
  const loopback = await loopbackListener();
  const app = await createNativeApp(server, ['http://127.0.0.1/callback'], {
    allowed_logout_urls: [`http://127.0.0.1:${loopback.port}/logged-out`],
  });
  const config = await client.discovery(new URL(server.issuer), app.client_id, { token_endpoint_auth_method: 'none' }, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: `http://127.0.0.1:${loopback.port}/callback`,
    scope: 'openid profile email offline_access read:messages',
    audience: API,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  // The "system browser": Chromium shows latchkey's login page and follows the redirect to the listener.
  const { context, page, problems } = await newContext(browser);
  await page.goto(authorizationUrl.href);
  await submitLogin(page, EMAIL, TEST_PASSWORD);
  const callbackUrl = await loopback.callback;
  loopback.close();
  assert.equal(callbackUrl.searchParams.get('state'), state);
  assert.equal(callbackUrl.searchParams.get('iss'), server.issuer);

  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  assert.equal(claims.iss, server.issuer);
  assert.equal(claims.aud, app.client_id);
  assert.equal(claims.nonce, nonce);
  assert.equal(claims.email, EMAIL);
  assert.equal(claims.name, 'Ada Lovelace');
  assert.match(String(claims.sub), /^auth0\|[0-9a-f]{24}$/);
  assert.ok(typeof claims.sid === 'string' && typeof claims.auth_time === 'number');
  assert.ok(tokens.refresh_token, 'offline_access against an API allowing it yields a refresh token');

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.email, EMAIL);

  const call = (token: string) => fetch(`${apiUrl}/private`, { headers: { authorization: `Bearer ${token}` } });
  const ok = await call(tokens.access_token);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { message: 'private', sub: claims.sub });
  assert.equal((await call(`${tokens.access_token.slice(0, -4)}AAAA`)).status, 401);

  // Refresh: a new refresh token; the old one is refused, and presenting it revoked the new one too.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
  assert.equal(refreshed.claims()!.sub, claims.sub, 'the refresh response carries an id_token');
  assert.equal((await call(refreshed.access_token)).status, 200);
  await assert.rejects(
    client.refreshTokenGrant(config, tokens.refresh_token!),
    (err: Error & { error?: string }) => err.error === 'invalid_grant',
  );
  await assert.rejects(
    client.refreshTokenGrant(config, refreshed.refresh_token!),
    (err: Error & { error?: string }) => err.error === 'invalid_grant',
  );

  // Logout through the end-session endpoint, with the id_token as hint: the SSO session ends.
  const logoutUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token!,
    post_logout_redirect_uri: `http://127.0.0.1:${loopback.port}/logged-out`,
    state: 'bye',
  });
  const logoutResponse = await page.request.get(logoutUrl.href, { maxRedirects: 0 });
  assert.equal(logoutResponse.status(), 302);
  assert.equal(logoutResponse.headers().location, `http://127.0.0.1:${loopback.port}/logged-out?state=bye`);
  const silent = new URL(authorizationUrl);
  silent.searchParams.set('prompt', 'none');
  const afterLogout = await page.request.get(silent.href, { maxRedirects: 0 });
  assert.equal(new URL(afterLogout.headers().location!).searchParams.get('error'), 'login_required');
  assert.deepEqual(problems, []);
  await context.close();
});

test('custom-scheme redirect: the 302 is captured in the browser and the code redeemed with oauth4webapi', async () => {
  const redirectUri = 'com.example.app:/callback';
  const app = await createNativeApp(server, [redirectUri]);
  const issuer = new URL(server.issuer);
  const as = await oauth
    .discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true })
    .then((response) => oauth.processDiscoveryResponse(issuer, response));
  const oauthClient: oauth.Client = { client_id: app.client_id, token_endpoint_auth_method: 'none' };
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint!);
  for (const [key, value] of Object.entries({
    client_id: app.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid profile offline_access',
    audience: API,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }))
    url.searchParams.set(key, value);

  const { context, page, problems } = await newContext(browser);
  await page.goto(url.href);
  // The OS would hand com.example.app: URLs to the app; here the browser's view of the 302 is the hand-over.
  const redirect = page.waitForResponse((response) => response.url().endsWith('/u/login') && response.status() === 302);
  await submitLogin(page, EMAIL, TEST_PASSWORD);
  const location = (await redirect).headers().location!;
  assert.ok(location.startsWith(`${redirectUri}?`), location);

  const params = oauth.validateAuthResponse(as, oauthClient, new URL(location), state);
  const response = await oauth.authorizationCodeGrantRequest(as, oauthClient, oauth.None(), params, redirectUri, verifier, {
    [oauth.allowInsecureRequests]: true,
  });
  const result = await oauth.processAuthorizationCodeResponse(as, oauthClient, response, { expectedNonce: nonce, requireIdToken: true });
  const claims = oauth.getValidatedIdTokenClaims(result)!;
  assert.equal(claims.aud, app.client_id);
  assert.equal(claims.nonce, nonce);
  assert.ok(result.refresh_token);
  assert.equal((await fetch(`${apiUrl}/private`, { headers: { authorization: `Bearer ${result.access_token}` } })).status, 200);

  // The code is single use: redeeming it again fails and revokes the refresh token it produced.
  const replay = await oauth.authorizationCodeGrantRequest(as, oauthClient, oauth.None(), params, redirectUri, verifier, {
    [oauth.allowInsecureRequests]: true,
  });
  await assert.rejects(
    oauth.processAuthorizationCodeResponse(as, oauthClient, replay),
    (err: Error & { error?: string }) => err.error === 'invalid_grant',
  );
  const refresh = await oauth.refreshTokenGrantRequest(as, oauthClient, oauth.None(), result.refresh_token!, {
    [oauth.allowInsecureRequests]: true,
  });
  await assert.rejects(
    oauth.processRefreshTokenResponse(as, oauthClient, refresh),
    (err: Error & { error?: string }) => err.error === 'invalid_grant',
  );
  assert.deepEqual(problems, []);
  await context.close();
});
