import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerAuthBridge } from '../src/adapters/electron.js';
import { AUTH_BRIDGE_CHANNELS, type AuthBridge, exposeAuthBridge } from '../src/adapters/electron-preload.js';
import { type AuthStatus, DesktopAuth, deepLinkRedirect, memoryStore } from '../src/index.js';
import { fakeElectron } from './helpers/fake-electron.js';
import { FAKE_CLIENT, FAKE_ISSUER, fakeIssuer } from './helpers/fake-issuer.js';

const REFRESH_TOKEN = 'rt-NEVER-IN-THE-RENDERER';
const REDIRECT = 'com.example.app:/callback';

/** A DesktopAuth on the fake issuer whose "browser" completes the sign-in at once through handleRedirect(). */
async function signedInAuth() {
  const issuer = await fakeIssuer();
  let idToken = '';
  let round = 0;
  issuer.onToken(() => {
    round += 1;
    return {
      status: 200,
      body: {
        access_token: `at-${round}`,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: `${REFRESH_TOKEN}-${round}`,
        id_token: idToken,
      },
    };
  });
  const auth: DesktopAuth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    fetch: issuer.fetch,
    store: memoryStore(),
    redirect: deepLinkRedirect(REDIRECT),
    openUrl: async (url) => {
      const authorize = new URL(url);
      idToken = await issuer.idToken({ nonce: authorize.searchParams.get('nonce')!, name: 'Ada Lovelace' });
      setImmediate(() => auth.handleRedirect(`${REDIRECT}?code=c1&state=${authorize.searchParams.get('state')}`));
    },
  });
  return { auth, issuer };
}

test('the preload exposes only login, logout, getAccessToken, getProfile and onStatus; no refresh token or id_token crosses', async () => {
  const electron = fakeElectron();
  const { auth } = await signedInAuth();
  const externals: string[] = [];
  registerAuthBridge(electron.ipcMain, auth, { openExternal: (url) => externals.push(url), logoutReturnTo: 'com.example.app:/bye' });
  exposeAuthBridge(electron.contextBridge, electron.ipcRenderer);

  // The renderer's whole world: one key, five functions, no ipcRenderer, no channel names to pick.
  assert.deepEqual([...electron.exposed.keys()], ['latchkey']);
  const api = electron.exposed.get('latchkey') as AuthBridge;
  assert.deepEqual(Object.keys(api).sort(), ['getAccessToken', 'getProfile', 'login', 'logout', 'onStatus']);
  for (const value of Object.values(api)) assert.equal(typeof value, 'function');
  assert.deepEqual(
    [...electron.handlers.keys()].sort(),
    Object.values(AUTH_BRIDGE_CHANNELS)
      .filter((c) => c !== AUTH_BRIDGE_CHANNELS.status)
      .sort(),
  );

  const statuses: AuthStatus[] = [];
  api.onStatus((status) => statuses.push(status));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(statuses, ['signed-out'], 'the current status first');

  const profile = await api.login();
  assert.equal(profile.name, 'Ada Lovelace');
  assert.deepEqual(await api.getProfile(), profile);
  assert.equal(await api.getAccessToken(), 'at-1');
  assert.equal(await api.getAccessToken({ forceRefresh: true }), 'at-2');
  assert.deepEqual(statuses, ['signed-out', 'signing-in', 'signed-in']);

  // Main holds what the renderer must not: the refresh token and the id_token.
  assert.match(auth.getTokenResponse()!.refresh_token!, /^rt-NEVER/);
  const idToken = auth.getIdToken()!;
  assert.deepEqual(await api.logout(), { revoked: true });
  assert.equal(new URL(externals[0]!).pathname, '/v2/logout', 'main opened the logout page in the system browser');
  assert.equal(await api.getProfile(), null);
  assert.deepEqual(statuses.at(-1), 'signed-out');

  const traffic = electron.crossed.join('\n');
  assert.ok(traffic.includes('at-2'), 'access tokens do cross (that is what getAccessToken is for)');
  assert.ok(!traffic.includes('rt-NEVER'), 'no refresh token crossed the bridge');
  assert.ok(!traffic.includes(idToken), 'nor the id_token');
  assert.ok(!traffic.includes(externals[0]!), 'nor the logout URL, which carries the id_token as hint');
});

test('main checks every argument and the sender; failures arrive as errors with the SDK code', async () => {
  const electron = fakeElectron();
  const { auth, issuer } = await signedInAuth();
  registerAuthBridge(electron.ipcMain, auth);
  exposeAuthBridge(electron.contextBridge, electron.ipcRenderer, 'auth');
  const api = electron.exposed.get('auth') as AuthBridge;

  const rejectsWith = (promise: Promise<unknown>, code: string) =>
    assert.rejects(promise, (error: Error & { code?: string }) => error.code === code && error.message.startsWith(`${code}: `));
  await rejectsWith(api.getAccessToken(), 'login_required');
  await rejectsWith(api.getAccessToken({ audience: 42 } as never), 'invalid_argument');
  await rejectsWith(api.getAccessToken({ refreshToken: true } as never), 'invalid_argument');
  await rejectsWith(api.login({ prompt: 'everything' } as never), 'invalid_argument');
  await rejectsWith(api.login({ extraParams: { redirect_uri: 'https://evil.example/' } } as never), 'invalid_argument');
  await rejectsWith(api.login('audience' as never), 'invalid_argument');
  await rejectsWith(api.login({ maxAge: -1 }), 'invalid_argument');
  await rejectsWith(api.login({ scope: 'x'.repeat(5000) }), 'invalid_argument');
  // A raw invoke with extra arguments, as a compromised renderer could send.
  const raw = (await electron.ipcRenderer.invoke(AUTH_BRIDGE_CHANNELS.logout, {}, 'more')) as { ok: boolean; error: { code: string } };
  assert.equal(raw.error.code, 'invalid_argument');
  assert.equal(issuer.tokenRequests().length, 0, 'nothing invalid reached the server');

  // An iframe inside the window (ads, embedded content) is not the app.
  const fromIframe = (await electron.iframeInvoke(AUTH_BRIDGE_CHANNELS.getProfile)) as { ok: boolean; error: { code: string } };
  assert.equal(fromIframe.ok, false);
  assert.equal(fromIframe.error.code, 'sender_not_allowed');

  // Valid options pass through to the SDK.
  const profile = await api.login({ scope: 'openid profile', prompt: 'login', loginHint: 'ada@example.com' });
  assert.equal(profile.sub, 'auth0|user1');
});
