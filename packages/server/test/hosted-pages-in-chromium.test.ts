import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { pkcePair } from './helpers/http-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createNativeApp, createUser, makeDatabaseConnectionDomainWide, TEST_PASSWORD } from './helpers/tenant.js';

/** Screenshots land here for people to look at (CI keeps them as artifacts); nothing compares pixels. */
const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'screenshots');
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, mobile: { width: 390, height: 844 } } as const;

let server: TestServer;
let browser: Browser;
let clientId: string;
const CALLBACK = 'http://127.0.0.1/callback';

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  browser = await launchChromium();
  await server.management('PATCH', '/tenants/settings', { friendly_name: 'Acme Robotics' });
  await createApi(server, 'https://api.acme.test/');
  await createUser(server, 'pat@acme.test');
  const app = await createNativeApp(server, [CALLBACK], { name: 'Acme Desktop' });
  clientId = app.client_id;
});

after(async () => {
  await browser?.close();
  await server?.close();
});

function authorizeUrl(params: Record<string, string> = {}): string {
  const url = new URL(`${server.issuer}authorize`);
  const pkce = pkcePair();
  for (const [key, value] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: 'http://127.0.0.1:4000/callback',
    scope: 'openid profile email',
    state: 'screenshot',
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    ...params,
  }))
    url.searchParams.set(key, value);
  return url.href;
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const [viewport, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${viewport}.png`), fullPage: true });
  }
}

test('the login page: labelled fields, keyboard order, tenant and app names, strict CSP, no violations', async () => {
  const { context, page, problems } = await newContext(browser);
  const response = await page.goto(authorizeUrl());
  const csp = response!.headers()['content-security-policy']!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline scripts');
  await assert.doesNotReject(page.getByText('Log in to Acme Robotics to continue to Acme Desktop.').waitFor());

  // Keyboard only: the email field has focus, Tab moves to the password, Enter submits.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'username');
  await page.keyboard.type('pat@acme.test');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'password');
  await page.keyboard.type('not the password');
  await shoot(page, 'login');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').textContent(), 'Wrong email or password.');
  assert.equal(await page.getByLabel('Email').inputValue(), 'pat@acme.test', 'the email is kept after an error');
  assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
  await shoot(page, 'login-error');
  assert.deepEqual(problems, []);
  await context.close();
});

test('the sign-up page (screen_hint=signup) explains the password policy and reports a weak password', async () => {
  const { context, page, problems } = await newContext(browser);
  await page.goto(authorizeUrl({ screen_hint: 'signup' }));
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  assert.match((await page.locator('#password-hint').textContent())!, /At least 8 characters/);
  await page.getByLabel('Email').fill('new@acme.test');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').waitFor();
  assert.match((await page.getByRole('alert').textContent())!, /too short/);
  await shoot(page, 'signup-error');
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  const back = page.waitForResponse((r) => r.url().endsWith('/u/signup') && r.status() === 302);
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.match((await back).headers().location!, /^http:\/\/127\.0\.0\.1:4000\/callback\?code=/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a taken email on the sign-up page says the account exists and its link logs in on the same transaction', async () => {
  const { context, page, problems } = await newContext(browser);
  await page.goto(authorizeUrl({ screen_hint: 'signup' }));
  await page.getByLabel('Email').fill('pat@acme.test');
  await page.getByLabel('Password').fill('Another-pass-99');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').waitFor();
  assert.match((await page.getByRole('alert').textContent())!, /An account with this email address already exists\. Log in instead/);
  await shoot(page, 'signup-account-exists');
  await page.getByRole('link', { name: 'Log in instead' }).click();
  await page.getByRole('heading', { name: 'Welcome' }).waitFor();
  const back = page.waitForResponse((r) => r.url().endsWith('/u/login') && r.status() === 302);
  await submitLogin(page, 'pat@acme.test', TEST_PASSWORD);
  assert.match((await back).headers().location!, /^http:\/\/127\.0\.0\.1:4000\/callback\?code=.*state=screenshot/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the default avatar renders as an image', async () => {
  const { context, page } = await newContext(browser, { viewport: { width: 400, height: 160 } });
  const images = ['al', 'pl', 'z', 'default'].map(
    (n) => `<img src="${server.issuer}avatars/${n}.svg" width="64" height="64" style="margin-right:12px;border-radius:50%">`,
  );
  await page.setContent(`<body style="margin:16px">${images.join('')}</body>`);
  await page.waitForFunction(() => [...document.images].every((img) => img.complete && img.naturalWidth === 128));
  await page.screenshot({ path: join(SCREENSHOTS, 'default-avatars.png') });
  await context.close();
});

test('the consent page names the app, its links and what it asks for; declining returns access_denied', async () => {
  const thirdParty = await createNativeApp(server, [CALLBACK], {
    name: 'Partner Sync',
    is_first_party: false,
    client_metadata: { client_uri: 'https://partner.example/', policy_uri: 'https://partner.example/privacy' },
  });
  await makeDatabaseConnectionDomainWide(server);
  const { context, page, problems } = await newContext(browser);
  await page.goto(
    authorizeUrl({
      client_id: thirdParty.client_id,
      audience: 'https://api.acme.test/',
      scope: 'openid profile read:messages offline_access',
    }),
  );
  await submitLogin(page, 'pat@acme.test', TEST_PASSWORD);
  await page.getByRole('heading', { name: 'Authorize Partner Sync' }).waitFor();
  const text = (await page.locator('main').textContent())!;
  for (const expected of ['Read your messages', 'See your name, nickname and picture', 'Privacy policy', 'pat@acme.test']) {
    assert.ok(text.includes(expected), `consent page mentions ${expected}`);
  }
  // A registered name proves nothing: the page says so, and shows where accepting leads.
  const notice = page.getByRole('note');
  assert.match((await notice.textContent())!, /Not verified by Acme Robotics\./);
  assert.equal(await notice.locator('.destination').textContent(), '127.0.0.1:4000');
  await shoot(page, 'consent');
  const back = page.waitForResponse((r) => r.url().endsWith('/u/consent') && r.status() === 302);
  await page.getByRole('button', { name: 'Decline' }).click();
  const location = new URL((await back).headers().location!);
  assert.equal(location.searchParams.get('error'), 'access_denied');
  assert.equal(location.searchParams.get('state'), 'screenshot');

  // A native app's custom scheme is shown whole; a first-party app's consent carries no notice.
  // (A new tab: the declined one is still failing to load the app's callback, which nothing serves.)
  const native = await createNativeApp(server, ['com.partner.sync:/callback'], { name: 'Partner Sync', is_first_party: false });
  const next = await context.newPage();
  await next.goto(authorizeUrl({ client_id: native.client_id, redirect_uri: 'com.partner.sync:/callback' }));
  assert.equal(await next.getByRole('note').locator('.destination').textContent(), 'com.partner.sync:');
  await shoot(next, 'consent-custom-scheme');
  await next.goto(authorizeUrl({ prompt: 'consent' }));
  await next.getByRole('heading', { name: 'Authorize Acme Desktop' }).waitFor();
  assert.equal(await next.getByRole('note').count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test('an unregistered callback URL gets the error page, never a redirect', async () => {
  const { context, page, problems } = await newContext(browser);
  const response = await page.goto(authorizeUrl({ redirect_uri: 'https://evil.example/callback' }));
  assert.equal(response!.status(), 400);
  assert.equal(new URL(page.url()).host, new URL(server.issuer).host);
  await page.getByRole('heading', { name: 'Callback URL mismatch' }).waitFor();
  await shoot(page, 'error-callback-mismatch');
  assert.deepEqual(problems, []);
  await context.close();
});

test('logout without an id_token_hint asks first, then shows the logged-out page', async () => {
  const { context, page, problems } = await newContext(browser);
  // Stands in for the app's callback, so the browser settles there before the next navigation.
  await context.route('http://127.0.0.1:4000/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>app</p>' }));
  await page.goto(authorizeUrl());
  await submitLogin(page, 'pat@acme.test', TEST_PASSWORD);
  await page.waitForURL('http://127.0.0.1:4000/**');
  await page.goto(`${server.issuer}oidc/logout`);
  await page.getByRole('heading', { name: 'Log out?' }).waitFor();
  await shoot(page, 'logout-confirm');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'You are logged out' }).waitFor();
  await shoot(page, 'logged-out');
  // The session is gone: /authorize shows the login form again.
  await page.goto(authorizeUrl());
  await page.getByLabel('Password').waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});
