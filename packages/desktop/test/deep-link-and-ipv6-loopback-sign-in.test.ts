import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, test } from 'node:test';
import { type ElectronAppLike, forwardDeepLinks } from '../src/adapters/electron.js';
import { loopbackRedirect } from '../src/adapters/node.js';
import { type AuthStatus, DesktopAuth, deepLinkRedirect, memoryStore } from '../src/index.js';
import { API, callApi, createNativeApp, EMAIL, type Latchkey, newContext, signInAtLoginPage, startLatchkey } from './helpers/latchkey.js';

const REDIRECT_URI = 'com.example.desktop:/callback';

let latchkey: Latchkey;

before(async () => {
  latchkey = await startLatchkey();
});

after(async () => {
  await latchkey?.close();
});

test('custom scheme: the 302 to com.example.desktop: is handed to handleRedirect() and completes the login', async () => {
  const app = await createNativeApp(latchkey.server, [REDIRECT_URI]);
  const { context, page, problems } = await newContext(latchkey.browser);
  const statuses: AuthStatus[] = [];
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId: app.client_id,
    audience: API,
    redirect: deepLinkRedirect(REDIRECT_URI),
    openUrl: (url) => page.goto(url),
    store: memoryStore(),
  });
  auth.on('status', (status) => statuses.push(status));
  assert.equal(auth.handleRedirect(`${REDIRECT_URI}?code=x&state=y`), false, 'no login waiting: a stray deep link is ignored');

  // The OS would pass com.example.desktop: URLs to the app; the browser's view of the 302 stands in for it.
  const redirect = page.waitForResponse((response) => response.url().endsWith('/u/login') && response.status() === 302);
  const loggingIn = auth.login({ maxAge: 600 });
  await signInAtLoginPage(page);
  const location = (await redirect).headers().location!;
  assert.ok(location.startsWith(`${REDIRECT_URI}?`), location);
  assert.equal(auth.handleRedirect('com.other.app:/callback?code=x'), false, "another app's link is not ours");
  assert.equal(auth.handleRedirect(location), true);
  const user = await loggingIn;

  assert.equal(user.email, EMAIL);
  assert.equal(user.aud, app.client_id);
  assert.equal(typeof user.auth_time, 'number', 'max_age was sent, so auth_time was required and checked');
  assert.deepEqual(auth.getProfile(), user);
  assert.deepEqual(statuses, ['signing-in', 'signed-in']);
  assert.equal((await callApi(latchkey.apiUrl, await auth.getAccessToken())).status, 200);
  assert.equal(auth.handleRedirect(location), false, 'the login is over: replaying the link does nothing');
  assert.deepEqual(problems, []);
  await context.close();
});

test('Electron: forwardDeepLinks() routes open-url events to the waiting login', async () => {
  const app = await createNativeApp(latchkey.server, [REDIRECT_URI]);
  const { context, page } = await newContext(latchkey.browser);
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId: app.client_id,
    redirect: deepLinkRedirect(REDIRECT_URI),
    openUrl: (url) => page.goto(url),
  });
  const electronApp = new EventEmitter();
  forwardDeepLinks(electronApp as unknown as ElectronAppLike, auth);

  const redirect = page.waitForResponse((response) => response.url().endsWith('/u/login') && response.status() === 302);
  const loggingIn = auth.login();
  await signInAtLoginPage(page);
  const location = (await redirect).headers().location!;
  let prevented = false;
  // macOS: open-url; the handler claims the URL so Electron does not treat it as unhandled.
  electronApp.emit('open-url', { preventDefault: () => (prevented = true) }, location);
  assert.equal((await loggingIn).email, EMAIL);
  assert.equal(prevented, true);
  await context.close();
});

test('loopback on [::1]: the listener gets an IPv6 ephemeral port and the registered http://[::1]/callback matches', async () => {
  const app = await createNativeApp(latchkey.server, ['http://[::1]/callback']);
  const { context, page } = await newContext(latchkey.browser);
  let authorizeUrl: URL | undefined;
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId: app.client_id,
    audience: API,
    redirect: loopbackRedirect({ host: '::1', successPage: (user) => `<p>Welcome back, ${user.name}</p>` }),
    openUrl: (url) => {
      authorizeUrl = new URL(url);
      return page.goto(url);
    },
  });
  const [user] = await Promise.all([auth.login(), signInAtLoginPage(page)]);
  assert.equal(user.name, 'Ada Lovelace');
  assert.match(authorizeUrl!.searchParams.get('redirect_uri')!, /^http:\/\/\[::1\]:\d+\/callback$/);
  await page.waitForURL(/^http:\/\/\[::1\]:\d+\/callback\?/);
  assert.equal(await page.locator('body').innerText(), 'Welcome back, Ada Lovelace', 'the customised page was served');
  assert.equal((await callApi(latchkey.apiUrl, await auth.getAccessToken())).status, 200);
  await context.close();
});
