import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DesktopAuth, memoryStore } from '../src/index.js';
import { loopbackRedirect } from '../src/adapters/node.js';
import { parseSession } from '../src/session.js';
import { createAuthService } from '../../../examples/electron/src/auth-service.js';
import { readConfig } from '../../../examples/electron/src/config.js';
import { API, createNativeApp, directRefresh, EMAIL, PICTURE, newContext, signInAtLoginPage, startLatchkey, type Latchkey } from './helpers/latchkey.js';

let latchkey: Latchkey;

before(async () => {
  latchkey = await startLatchkey();
});

after(async () => {
  await latchkey?.close();
});

test("the Electron example's main-process logic: log in, profile for the window, Get Private Message, log out", async () => {
  const returnTo = 'http://127.0.0.1/logged-out';
  const clientId = (await createNativeApp(latchkey.server, ['http://127.0.0.1/callback'], { allowed_logout_urls: [returnTo] })).client_id;
  const { context, page } = await newContext(latchkey.browser);
  const store = memoryStore();
  const opened: string[] = [];
  const service = createAuthService({
    auth: new DesktopAuth({ issuer: latchkey.server.issuer, clientId, audience: API, redirect: loopbackRedirect(), openUrl: (url) => page.goto(url), store }),
    apiUrl: latchkey.apiUrl,
    openExternal: async (url) => void opened.push(url),
    logoutReturnTo: returnTo,
  });
  const statuses: string[] = [];
  service.onStatus((status) => statuses.push(status));

  assert.equal(await service.start(), null, 'nothing stored: the window shows "Log in"');
  const [profile] = await Promise.all([service.login(), signInAtLoginPage(page)]);
  assert.equal(profile.name, 'Ada Lovelace');
  assert.equal(profile.email, EMAIL);
  assert.equal(profile.picture, PICTURE);
  assert.equal(Object.keys(profile).some((key) => /token/i.test(key)), false, 'no token reaches the renderer');
  assert.deepEqual(service.profile(), profile);
  assert.equal(await service.privateMessage(), 'Your access token was successfully validated!');

  // Next start of the app: a new SDK instance on the same store signs in silently.
  const restarted = createAuthService({
    auth: new DesktopAuth({ issuer: latchkey.server.issuer, clientId, audience: API, store }),
    apiUrl: latchkey.apiUrl,
    openExternal: async (url) => void opened.push(url),
    logoutReturnTo: returnTo,
  });
  const restartStatuses: string[] = [];
  restarted.onStatus((status) => restartStatuses.push(status));
  assert.deepEqual(await restarted.start(), profile);
  const refreshToken = parseSession(await store.load(), latchkey.server.issuer, clientId)!.refreshToken;
  await restarted.logout();
  assert.equal(restarted.profile(), null);
  assert.equal(await store.load(), null);
  assert.equal(opened.length, 1);
  const logoutUrl = new URL(opened[0]!);
  assert.equal(logoutUrl.pathname, '/v2/logout');
  assert.equal(logoutUrl.searchParams.get('returnTo'), returnTo);
  // The browser's session at latchkey ends too, and /v2/logout accepts the returnTo.
  const logout = await page.request.get(logoutUrl.href, { maxRedirects: 0 });
  assert.equal(logout.status(), 302);
  assert.equal(logout.headers().location, returnTo);
  assert.equal((await directRefresh(latchkey.server, clientId, refreshToken)).body.error, 'invalid_grant', 'revoked at the server');
  assert.deepEqual(statuses, ['signing-in', 'signed-in']);
  assert.deepEqual(restartStatuses, ['signing-in', 'signed-in', 'signed-out']);
  await context.close();
});

test('the Electron example reads its configuration from the environment', () => {
  const config = readConfig({ AUTH0_DOMAIN: 'tenant.eu.auth0.com', CLIENT_ID: 'abc', AUDIENCE: 'https://api/', REDIRECT: 'custom-scheme', TOKEN_STORE: 'safe-storage' });
  assert.deepEqual(config, {
    domain: 'tenant.eu.auth0.com',
    clientId: 'abc',
    audience: 'https://api/',
    apiUrl: 'http://localhost:3001',
    redirect: 'custom-scheme',
    customSchemeRedirectUri: 'com.example.latchkey-electron:/callback',
    store: 'safe-storage',
  });
  assert.throws(() => readConfig({ CLIENT_ID: 'abc' }), /LATCHKEY_ISSUER or AUTH0_DOMAIN/);
});
