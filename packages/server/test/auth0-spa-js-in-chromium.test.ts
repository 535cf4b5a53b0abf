import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createAppClient, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const API = 'https://spa-api.example.test/';
const EMAIL = 'grace@example.com';
const spaJs = readFileSync(createRequire(import.meta.url).resolve('@auth0/auth0-spa-js/dist/auth0-spa-js.production.js'));
const appJs = readFileSync(new URL('./fixtures/spa/app.js', import.meta.url));

let server: TestServer;
let browser: Browser;
let spa: Server;
let spaOrigin: string;
let clientId: string;

/** Serves the SPA from another local port: a different origin from latchkey, so CORS applies. */
async function startSpa(config: () => Record<string, string>): Promise<Server> {
  const listening = createServer((req, res) => {
    const path = new URL(req.url!, 'http://spa').pathname;
    if (path === '/auth0-spa-js.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(spaJs);
    if (path === '/app.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(appJs);
    const index = `<!doctype html><html><head><meta charset="utf-8"><title>SPA</title></head>
<body data-config='${JSON.stringify(config())}'><script src="/auth0-spa-js.js"></script><script src="/app.js"></script></body></html>`;
    return res.writeHead(200, { 'content-type': 'text/html' }).end(index);
  });
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return listening;
}

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  await createApi(server, API);
  await createUser(server, EMAIL, { name: 'Grace Hopper' });
  // The SPA's origin is known once it listens; its config is filled in when the client exists.
  const config = { domain: server.issuer.replace(/\/$/, ''), clientId: '', audience: API };
  spa = await startSpa(() => config);
  spaOrigin = `http://127.0.0.1:${(spa.address() as AddressInfo).port}`;
  const app = await createAppClient(server, {
    name: 'Single Page App',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    callbacks: [`${spaOrigin}/`],
    allowed_logout_urls: [`${spaOrigin}/`],
    web_origins: [spaOrigin],
  });
  clientId = config.clientId = app.client_id;
});

after(async () => {
  await browser?.close();
  spa?.close();
  await server?.close();
});

test('@auth0/auth0-spa-js: loginWithRedirect, handleRedirectCallback, getTokenSilently (refresh tokens, web_message), logout', async () => {
  const { context, page, problems } = await newContext(browser);
  await page.goto(`${spaOrigin}/`);
  assert.deepEqual(await page.evaluate(() => (window as any).appReady), { authenticated: false, user: null });

  await page.evaluate(() => (window as any).client.loginWithRedirect());
  await page.waitForURL(/\/u\/login\?/);
  await submitLogin(page, EMAIL, TEST_PASSWORD);
  await page.waitForURL(`${spaOrigin}/`);
  const signedIn = await page.evaluate(() => (window as any).appReady);
  assert.equal(signedIn.authenticated, true);
  assert.equal(signedIn.user.email, EMAIL);
  assert.equal(signedIn.user.name, 'Grace Hopper');

  const storedRefreshToken = () =>
    page.evaluate(() => {
      for (const key of Object.keys(localStorage)) {
        const entry = JSON.parse(localStorage.getItem(key)!);
        if (entry?.body?.refresh_token) return entry.body.refresh_token as string;
      }
      return null;
    });
  const firstRefreshToken = await storedRefreshToken();
  assert.ok(firstRefreshToken, 'spa-js keeps the refresh token from the code exchange');

  // Refresh-token path: a cross-origin POST to /oauth/token, which needs CORS for the SPA's origin.
  const refreshed = await page.evaluate(() => (window as any).client.getTokenSilently({ cacheMode: 'off', detailedResponse: true }));
  const accessClaims = decodeJwt(refreshed.access_token);
  assert.deepEqual(accessClaims.aud, [API, `${server.issuer}userinfo`]);
  assert.equal(accessClaims.azp, clientId);
  const secondRefreshToken = await storedRefreshToken();
  assert.ok(secondRefreshToken && secondRefreshToken !== firstRefreshToken, 'the refresh token rotated');

  // Iframe path: prompt=none with response_mode=web_message, answered from the SSO session.
  const viaIframe = await page.evaluate(async () => {
    const client = await (window as any).makeClient({ useRefreshTokens: false, cacheLocation: 'memory' });
    return client.getTokenSilently({ cacheMode: 'off', detailedResponse: true });
  });
  assert.equal(decodeJwt(viaIframe.id_token).sub, decodeJwt(refreshed.id_token).sub);

  const loggedOut = page.waitForResponse((response) => response.url().includes('/v2/logout'));
  const back = page.waitForResponse((response) => response.url() === `${spaOrigin}/` && response.request().isNavigationRequest());
  // logout() navigates away, so it is started, not awaited, inside the page.
  await page.evaluate(() => void ((window as any).beforeLogout = true));
  await page.evaluate(() => void (window as any).client.logout({ logoutParams: { returnTo: `${location.origin}/` } }));
  const logoutResponse = await loggedOut;
  assert.equal(logoutResponse.status(), 302);
  assert.equal(logoutResponse.headers().location, `${spaOrigin}/`);
  await back;
  // A fresh document (the flag is gone) whose app has started.
  await page.waitForFunction(() => !(window as any).beforeLogout && (window as any).appReady !== undefined);
  assert.deepEqual(await page.evaluate(() => (window as any).appReady), { authenticated: false, user: null });
  const afterLogout = await page.evaluate(async () => {
    const client = await (window as any).makeClient({ useRefreshTokens: false, cacheLocation: 'memory' });
    return client.getTokenSilently({ cacheMode: 'off' }).then(
      () => 'signed in',
      (err: { error?: string }) => err.error,
    );
  });
  assert.equal(afterLogout, 'login_required', 'logout ended the SSO session');
  assert.deepEqual(problems, []);
  await context.close();
});
