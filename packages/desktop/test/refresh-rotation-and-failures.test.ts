import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AuthStatus,
  DesktopAuth,
  IdTokenInvalid,
  LoginRequired,
  memoryStore,
  TokenRefreshFailed,
  type TokenStore,
} from '../src/index.js';
import { parseSession, serialiseSession } from '../src/session.js';
import { FAKE_CLIENT, FAKE_ISSUER, fakeIssuer } from './helpers/fake-issuer.js';

/** A store already holding a session, as after an earlier run of the app. */
async function seededStore(refreshToken: string): Promise<TokenStore & { saves: string[] }> {
  const store = memoryStore();
  await store.save(serialiseSession({ v: 1, issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, refreshToken }));
  const saves: string[] = [];
  return {
    ...store,
    save: async (value) => {
      saves.push(parseSession(value, FAKE_ISSUER, FAKE_CLIENT)!.refreshToken);
      await store.save(value);
    },
    saves,
  };
}

const storedToken = async (store: TokenStore) => parseSession(await store.load(), FAKE_ISSUER, FAKE_CLIENT)?.refreshToken;

test('rotation: the new refresh token is stored before the response is checked, so a bad id_token does not lose it', async () => {
  const issuer = await fakeIssuer();
  const store = await seededStore('rt-0');
  let round = 0;
  let badIdToken = false;
  const idTokens = [await issuer.idToken({}), await issuer.idToken({ aud: 'someone-else' })];
  issuer.onToken((params) => {
    assert.equal(params.get('grant_type'), 'refresh_token');
    assert.equal(params.get('refresh_token'), `rt-${round}`, 'always the latest rotated token');
    round += 1;
    return {
      status: 200,
      body: {
        access_token: `at-${round}`,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: `rt-${round}`,
        id_token: idTokens[badIdToken ? 1 : 0],
      },
    };
  });
  const auth = new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store, fetch: issuer.fetch });
  assert.equal((await auth.restore())?.sub, 'auth0|user1');
  assert.equal(await auth.getAccessToken(), 'at-1');
  assert.equal(await storedToken(store), 'rt-1');

  badIdToken = true;
  await assert.rejects(auth.getAccessToken({ forceRefresh: true }), IdTokenInvalid);
  assert.equal(await storedToken(store), 'rt-2', 'the rotated token was kept although the id_token failed');
  badIdToken = false;
  assert.equal(await auth.getAccessToken({ forceRefresh: true }), 'at-3', 'and the next refresh uses it');
  assert.deepEqual(store.saves, ['rt-1', 'rt-2', 'rt-3']);
});

test('a refused refresh token (invalid_grant) signs out and clears storage; a network failure keeps both', async () => {
  const issuer = await fakeIssuer();
  const store = await seededStore('rt-0');
  let mode: 'ok' | 'offline' | 'revoked' = 'ok';
  const idToken = await issuer.idToken({});
  issuer.onToken(() =>
    mode === 'revoked'
      ? { status: 403, body: { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' } }
      : { status: 200, body: { access_token: 'at', token_type: 'Bearer', expires_in: 3600, id_token: idToken } },
  );
  const fetchImpl: typeof issuer.fetch = async (input, init) => {
    if (mode === 'offline' && String(input).endsWith('/oauth/token')) throw new TypeError('fetch failed');
    return issuer.fetch(input, init);
  };
  const statuses: AuthStatus[] = [];
  const auth = new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store, fetch: fetchImpl });
  auth.on('status', (status) => statuses.push(status));
  await auth.restore();
  assert.equal(await storedToken(store), 'rt-0', 'a non-rotating server sends no new token; the old one stays');

  mode = 'offline';
  await assert.rejects(
    auth.getAccessToken({ forceRefresh: true }),
    (error: unknown) => error instanceof TokenRefreshFailed && !error.loginRequired,
  );
  assert.equal(auth.status, 'offline', 'a network failure is an outage, not a sign-out');
  assert.equal(auth.getProfile()?.sub, 'auth0|user1');
  assert.equal(await storedToken(store), 'rt-0');

  mode = 'revoked';
  await assert.rejects(
    auth.getAccessToken({ forceRefresh: true }),
    (error: unknown) => error instanceof TokenRefreshFailed && error.loginRequired && error.error === 'invalid_grant',
  );
  assert.equal(auth.status, 'signed-out');
  assert.equal(await store.load(), null);
  assert.equal(auth.getProfile(), undefined);
  await assert.rejects(auth.getAccessToken(), LoginRequired);
  assert.deepEqual(statuses, ['signing-in', 'signed-in', 'offline', 'signed-out']);
});

test('restore(): nothing stored, or a refused token, resolves undefined; offline rejects and keeps the token', async () => {
  const issuer = await fakeIssuer();
  assert.equal(await new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, fetch: issuer.fetch }).restore(), undefined);

  const otherApp = memoryStore();
  await otherApp.save(serialiseSession({ v: 1, issuer: FAKE_ISSUER, clientId: 'another-client', refreshToken: 'rt-x' }));
  assert.equal(
    await new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store: otherApp, fetch: issuer.fetch }).restore(),
    undefined,
  );
  assert.equal(issuer.tokenRequests().length, 0, "another client's token is never sent");

  const offline = await seededStore('rt-0');
  const offlineFetch: typeof issuer.fetch = async (input, init) => {
    if (String(input).endsWith('/oauth/token')) throw new TypeError('fetch failed');
    return issuer.fetch(input, init);
  };
  await assert.rejects(
    new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store: offline, fetch: offlineFetch }).restore(),
    TokenRefreshFailed,
  );
  assert.equal(await storedToken(offline), 'rt-0');

  issuer.onToken(() => ({ status: 403, body: { error: 'invalid_grant' } }));
  const revoked = await seededStore('rt-0');
  assert.equal(
    await new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store: revoked, fetch: issuer.fetch }).restore(),
    undefined,
  );
  assert.equal(await revoked.load(), null);
});

test('logout while a refresh is in flight: the refresh finishes first, then its new token is the one revoked', async () => {
  const issuer = await fakeIssuer();
  const store = await seededStore('rt-0');
  let round = 0;
  const idToken = await issuer.idToken({});
  issuer.onToken(() => {
    round += 1;
    return {
      status: 200,
      body: { access_token: `at-${round}`, token_type: 'Bearer', expires_in: 3600, refresh_token: `rt-${round}`, id_token: idToken },
    };
  });
  const auth = new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store, fetch: issuer.fetch });
  await auth.restore();
  const refreshing = auth.getAccessToken({ forceRefresh: true });
  const loggingOut = auth.logout({ returnTo: 'http://127.0.0.1/bye', federated: true });
  assert.equal(await refreshing, 'at-2');
  const { logoutUrl, revoked } = await loggingOut;
  assert.equal(revoked, true);
  assert.equal(logoutUrl, `${FAKE_ISSUER}v2/logout?client_id=${FAKE_CLIENT}&returnTo=http%3A%2F%2F127.0.0.1%2Fbye&federated`);
  const revocation = issuer.requests.find((r) => r.url.endsWith('/oauth/revoke'))!;
  assert.equal(revocation.params.get('token'), 'rt-2');
  assert.equal(revocation.params.get('client_id'), FAKE_CLIENT);
  assert.equal(await store.load(), null);
  assert.equal(auth.status, 'signed-out');
});

test('a refresh (or an outage) during a new login does not overwrite its signing-in status', async () => {
  const issuer = await fakeIssuer();
  const store = await seededStore('rt-0');
  const idToken = await issuer.idToken({});
  issuer.onToken(() => ({
    status: 200,
    body: { access_token: 'at', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1', id_token: idToken },
  }));
  let offline = false;
  const fetchImpl: typeof issuer.fetch = async (input, init) => {
    if (offline && String(input).endsWith('/oauth/token')) throw new TypeError('fetch failed');
    return issuer.fetch(input, init);
  };
  const auth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    store,
    fetch: fetchImpl,
    redirect: { open: async () => ({ redirectUri: 'com.example.app:/cb', close: async () => {} }) },
    openUrl: () => {},
  });
  await auth.restore();
  const controller = new AbortController();
  const login = auth.login({ signal: controller.signal });
  assert.equal(auth.status, 'signing-in');
  await auth.getAccessToken({ forceRefresh: true });
  assert.equal(auth.status, 'signing-in', 'a refresh of the old session while the browser is open');
  offline = true;
  await assert.rejects(auth.getAccessToken({ forceRefresh: true }), TokenRefreshFailed);
  assert.equal(auth.status, 'signing-in', 'nor an outage');
  controller.abort();
  await assert.rejects(login);
  assert.equal(auth.status, 'signed-in', 'the cancelled login leaves the old session signed in');
});

test('a refresh response without id_token (optional, OIDC Core §12.2) still yields the access token; profile, id_token stay', async () => {
  const issuer = await fakeIssuer();
  const store = await seededStore('rt-0');
  const idToken = await issuer.idToken({ name: 'Ada Lovelace' });
  let round = 0;
  issuer.onToken(() => {
    round += 1;
    // Only the first answer (restore) carries an id_token, as providers that send it at sign-in only.
    return {
      status: 200,
      body: {
        access_token: `at-${round}`,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: `rt-${round}`,
        ...(round === 1 ? { id_token: idToken } : {}),
      },
    };
  });
  const auth = new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store, fetch: issuer.fetch });
  assert.equal((await auth.restore())?.name, 'Ada Lovelace');
  assert.equal(await auth.getAccessToken({ forceRefresh: true }), 'at-2');
  assert.equal(auth.status, 'signed-in');
  assert.equal(auth.getProfile()?.name, 'Ada Lovelace');
  assert.equal(auth.getIdToken(), idToken);
  assert.equal(await storedToken(store), 'rt-2');

  // restore() has no earlier profile to fall back on: it still needs the id_token, and keeps the rotated token.
  const fresh = new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, store, fetch: issuer.fetch });
  await assert.rejects(fresh.restore(), IdTokenInvalid);
  assert.equal(await storedToken(store), 'rt-3');
});
