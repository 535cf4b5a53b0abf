import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { wireMainProcess } from '../../../examples/electron/src/auth-service.js';
import { readConfig } from '../../../examples/electron/src/config.js';
import type { ExampleApi } from '../../../examples/electron/src/ipc.js';
import { exposeRendererApis } from '../../../examples/electron/src/preload-api.js';
import type { AuthBridge } from '../src/adapters/electron-preload.js';
import { loopbackRedirect } from '../src/adapters/node.js';
import { type AuthStatus, DesktopAuth, memoryStore } from '../src/index.js';
import { parseSession } from '../src/session.js';
import { fakeElectron } from './helpers/fake-electron.js';
import {
  API,
  createNativeApp,
  directRefresh,
  EMAIL,
  type Latchkey,
  newContext,
  PICTURE,
  signInAtLoginPage,
  startLatchkey,
} from './helpers/latchkey.js';

let latchkey: Latchkey;

before(async () => {
  latchkey = await startLatchkey();
});

after(async () => {
  await latchkey?.close();
});

/** The example's main process and preload on fake Electron IPC: what the window gets is what a renderer would. */
function exampleApp(auth: DesktopAuth, opened: string[], returnTo: string) {
  const electron = fakeElectron();
  const main = wireMainProcess({
    ipcMain: electron.ipcMain,
    auth,
    apiUrl: latchkey.apiUrl,
    openExternal: async (url) => void opened.push(url),
    logoutReturnTo: returnTo,
  });
  exposeRendererApis(electron.contextBridge, electron.ipcRenderer);
  const statuses: AuthStatus[] = [];
  const window = { latchkey: electron.exposed.get('latchkey') as AuthBridge, exampleApi: electron.exposed.get('exampleApi') as ExampleApi };
  window.latchkey.onStatus((status) => statuses.push(status));
  return { main, window, statuses, crossed: electron.crossed, exposed: electron.exposed };
}

test('Electron example via the bridge: log in, profile for the window, Get Private Message, restart, log out at the provider', async () => {
  const returnTo = 'http://127.0.0.1/logged-out';
  const clientId = (await createNativeApp(latchkey.server, ['http://127.0.0.1/callback'], { allowed_logout_urls: [returnTo] })).client_id;
  const { context, page } = await newContext(latchkey.browser);
  const store = memoryStore();
  const opened: string[] = [];
  const first = exampleApp(
    new DesktopAuth({
      issuer: latchkey.server.issuer,
      clientId,
      audience: API,
      redirect: loopbackRedirect(),
      openUrl: (url) => page.goto(url),
      store,
    }),
    opened,
    returnTo,
  );
  assert.deepEqual([...first.exposed.keys()], ['latchkey', 'exampleApi']);

  assert.equal(await first.window.latchkey.getProfile(), null, 'nothing stored: the window shows "Log in"');
  const [profile] = await Promise.all([first.window.latchkey.login(), signInAtLoginPage(page)]);
  assert.equal(profile.name, 'Ada Lovelace');
  assert.equal(profile.email, EMAIL);
  assert.equal(profile.picture, PICTURE);
  assert.deepEqual(await first.window.latchkey.getProfile(), profile);
  assert.equal(await first.window.exampleApi.getPrivateMessage(), 'Your access token was successfully validated!');
  first.main.dispose();

  // Next start of the app: a new SDK instance on the same store signs in silently.
  const restarted = exampleApp(new DesktopAuth({ issuer: latchkey.server.issuer, clientId, audience: API, store }), opened, returnTo);
  await restarted.main.start();
  const restored = await restarted.window.latchkey.getProfile();
  assert.deepEqual([restored?.sub, restored?.email], [profile.sub, profile.email]);
  const refreshToken = parseSession(await store.load(), latchkey.server.issuer, clientId)!.refreshToken;
  assert.deepEqual(await restarted.window.latchkey.logout(), { revoked: true });
  assert.equal(await restarted.window.latchkey.getProfile(), null);
  assert.equal(await store.load(), null);
  assert.equal(opened.length, 1);
  // latchkey publishes an end_session_endpoint: OpenID RP-initiated logout with the id_token as hint.
  const logoutUrl = new URL(opened[0]!);
  assert.equal(logoutUrl.pathname, '/oidc/logout');
  assert.equal(logoutUrl.searchParams.get('post_logout_redirect_uri'), returnTo);
  assert.ok(logoutUrl.searchParams.get('id_token_hint'));
  const logout = await page.request.get(logoutUrl.href, { maxRedirects: 0 });
  assert.equal(logout.status(), 302);
  assert.equal(logout.headers().location, returnTo);
  assert.equal((await directRefresh(latchkey.server, clientId, refreshToken)).body.error, 'invalid_grant', 'revoked at the server');
  assert.deepEqual(first.statuses, ['signed-out', 'signing-in', 'signed-in']);
  assert.deepEqual(restarted.statuses, ['signed-out', 'signing-in', 'signed-in', 'signed-out']);
  for (const app of [first, restarted])
    assert.ok(!app.crossed.join('\n').includes(refreshToken.slice(0, 20)), 'no refresh token crossed to the window');
  restarted.main.dispose();
  await context.close();
});

test('the Electron example reads its configuration from the environment', () => {
  const config = readConfig({
    AUTH0_DOMAIN: 'tenant.eu.auth0.com',
    CLIENT_ID: 'abc',
    AUDIENCE: 'https://api/',
    REDIRECT: 'custom-scheme',
    TOKEN_STORE: 'safe-storage',
  });
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
