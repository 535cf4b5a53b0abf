import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Page } from 'playwright-core';
import { loopbackRedirect } from '../src/adapters/node.js';
import { DesktopAuth, memoryStore } from '../src/index.js';
import { parseSession } from '../src/session.js';
import { countingFetch } from './helpers/counting-fetch.js';
import { createNativeApp, type Latchkey, newContext, signInAtLoginPage, startLatchkey } from './helpers/latchkey.js';
import { OP_CLIENT_ID, type PlainProvider, signInAtPlainProvider, startPlainProvider } from './helpers/oidc-provider.js';

/** One provider the same flow runs against. */
interface Target {
  issuer: string;
  clientId: string;
  signIn(page: Page): Promise<void>;
  name: string;
  /** The discovery document's end_session_endpoint path. */
  endSessionPath: string;
  /** OIDC Core §11: a provider that follows it grants offline_access (a refresh token) only with prompt=consent. */
  prompt?: 'consent';
  /** The provider's own logout confirmation, if it shows one. */
  confirmLogout?(page: Page): Promise<void>;
}

let latchkey: Latchkey;
let plain: PlainProvider;
const targets: Record<string, () => Promise<Target>> = {
  'oidc-provider (a plain OpenID provider)': async () => ({
    issuer: plain.issuer,
    clientId: OP_CLIENT_ID,
    signIn: signInAtPlainProvider,
    name: 'Grace Hopper',
    endSessionPath: '/session/end',
    prompt: 'consent',
    confirmLogout: (page) => page.getByRole('button', { name: 'Yes, sign me out' }).click(),
  }),
  latchkey: async () => {
    const returnTo = `${new URL(latchkey.server.issuer).origin}/signed-out`;
    const app = await createNativeApp(latchkey.server, ['http://127.0.0.1/callback'], { allowed_logout_urls: [returnTo] });
    return {
      issuer: latchkey.server.issuer,
      clientId: app.client_id,
      signIn: signInAtLoginPage,
      name: 'Ada Lovelace',
      endSessionPath: '/oidc/logout',
    };
  },
};

before(async () => {
  latchkey = await startLatchkey();
  plain = await startPlainProvider();
});

after(async () => {
  await plain?.close();
  await latchkey?.close();
});

/** invalid_grant (400 at oidc-provider, 403 at latchkey as at Auth0) once the token is revoked. */
async function refreshDirectly(tokenEndpoint: string, clientId: string, refreshToken: string): Promise<string> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }),
  });
  return ((await response.json()) as { error: string }).error;
}

for (const [label, setUp] of Object.entries(targets)) {
  test(`${label}: loopback login, raw id_token and response, rotation, narrower scope per call, restore, RP-initiated logout`, async () => {
    const target = await setUp();
    const discovery = (await (await fetch(`${target.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string
    >;
    const store = memoryStore();
    const counting = countingFetch();
    const { context, page, problems } = await newContext(latchkey.browser);
    const auth = new DesktopAuth({
      issuer: target.issuer,
      clientId: target.clientId,
      redirect: loopbackRedirect(),
      openUrl: (url) => page.goto(url),
      store,
      fetch: counting.fetch,
    });

    const [user] = await Promise.all([auth.login(target.prompt ? { prompt: target.prompt } : {}), target.signIn(page)]);
    assert.equal(user.name, target.name);
    assert.equal(auth.status, 'signed-in');

    // The raw id_token (for id_token_hint or a backend) and the token response as sent.
    const idToken = auth.getIdToken()!;
    assert.equal(decodeJwt(idToken).iss, discovery.issuer, "the provider's own spelling of its issuer");
    const response = auth.getTokenResponse()!;
    assert.equal(response.id_token, idToken);
    assert.equal(typeof response.refresh_token, 'string');
    assert.equal(response.token_type.toLowerCase(), 'bearer');

    // Forced refresh: the provider rotates, and the stored token follows.
    const firstRefresh = parseSession(await store.load(), auth.issuer, target.clientId)!.refreshToken;
    const refreshed = await auth.getAccessToken({ forceRefresh: true });
    assert.notEqual(refreshed, response.access_token);
    const rotated = parseSession(await store.load(), auth.issuer, target.clientId)!.refreshToken;
    assert.notEqual(rotated, firstRefresh);

    // A narrower scope for one call: sent with the refresh (RFC 6749 §6), cached apart from the default token.
    const narrow = await auth.getAccessToken({ scope: 'openid' });
    assert.notEqual(narrow, refreshed);
    const narrowRequest = counting.requests.at(-1)!;
    assert.equal(narrowRequest.grantType, 'refresh_token');
    assert.equal(await auth.getAccessToken(), refreshed, 'the default token is still the cached one');
    assert.equal(await auth.getAccessToken({ scope: 'openid' }), narrow, 'and the narrow one is cached under its scope');

    // A new instance on the same store signs in silently.
    const restarted = new DesktopAuth({ issuer: target.issuer, clientId: target.clientId, store });
    assert.equal((await restarted.restore())?.sub, user.sub);
    const liveRefreshToken = parseSession(await store.load(), auth.issuer, target.clientId)!.refreshToken;

    // Logout: revocation, then the provider's end_session_endpoint with the session's id_token as hint.
    const returnTo = `${new URL(target.issuer).origin}/signed-out`;
    const restartedIdToken = restarted.getIdToken()!;
    const { logoutUrl, revoked } = await restarted.logout({ returnTo });
    assert.equal(revoked, true);
    const url = new URL(logoutUrl!);
    assert.equal(url.origin + url.pathname, discovery.end_session_endpoint);
    assert.equal(url.pathname, target.endSessionPath);
    assert.equal(url.searchParams.get('id_token_hint'), restartedIdToken);
    assert.equal(url.searchParams.get('post_logout_redirect_uri'), returnTo);
    assert.equal(url.searchParams.get('client_id'), target.clientId);
    assert.equal(await store.load(), null);
    assert.equal(
      await refreshDirectly(discovery.token_endpoint!, target.clientId, liveRefreshToken),
      'invalid_grant',
      'revoked at the server',
    );

    // The browser ends its session at the provider and comes back to returnTo.
    await page.goto(url.href);
    await target.confirmLogout?.(page);
    await page.waitForURL((current) => current.href.startsWith(returnTo));
    assert.deepEqual(
      problems.filter((p) => !/fonts\.googleapis/.test(p)),
      [],
    );
    await context.close();
  });
}
