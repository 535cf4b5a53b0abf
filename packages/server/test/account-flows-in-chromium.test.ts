/**
 * Password reset, email verification and unblock end to end in Chromium, over real SMTP: the user
 * clicks "Forgot password?", latchkey sends the mail to a real SMTP server (test/helpers/smtp.ts),
 * which parses it; its link is followed in the browser, the new password set and the app signed in
 * to. A sign-up gets the verification mail (on by default with a provider), a locked account the
 * unblock mail, and their links are followed likewise. Every new page is screenshotted
 * (LATCHKEY_SCREENSHOTS, or test-artifacts/screenshots) for people to look at.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { authorizeUrl as buildAuthorizeUrl, formFields, Browser as HttpBrowser, pkcePair } from './helpers/http-login.js';
import { outboxMails, ticketLink } from './helpers/outbox.js';
import { TestClock } from './helpers/protocol.js';
import { backend, freePort, startTestServer, type TestServer } from './helpers/server.js';
import { type ReceivedMail, TestSmtp } from './helpers/smtp.js';
import { createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const SCREENSHOTS = process.env.LATCHKEY_SCREENSHOTS ?? join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'screenshots');
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, mobile: { width: 390, height: 844 } } as const;
const NEW_PASSWORD = 'Fresh-start-2026';

let server: TestServer;
let browser: Browser;
let app: { client_id: string };
let callback: Server;
let callbackUrl: string;
let smtp: TestSmtp;
const clock = new TestClock();

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer({ now: clock.now });
  browser = await launchChromium();
  await server.management('PATCH', '/tenants/settings', { friendly_name: 'Acme Robotics' });
  smtp = await TestSmtp.start({ auth: { user: 'latchkey', pass: 'smtp-secret-password' } });
  const provider = await server.management('POST', '/emails/provider', {
    name: 'smtp',
    credentials: smtp.credentials(),
    default_from_address: 'accounts@acme.test',
  });
  assert.equal(provider.status, 201, JSON.stringify(provider.body));
  // The app: a page at its redirect URI that says what it received.
  const port = await freePort();
  callbackUrl = `http://127.0.0.1:${port}/callback`;
  callback = createServer((req, res) => {
    const params = new URL(req.url ?? '/', callbackUrl).searchParams;
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<p id="app">code=${params.has('code')} state=${params.get('state')}</p>`);
  });
  await new Promise<void>((resolve) => callback.listen(port, '127.0.0.1', resolve));
  app = await createNativeApp(server, ['http://127.0.0.1/callback'], { name: 'Acme Desktop' });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => callback?.close(resolve));
  await server?.close();
  await smtp?.stop();
});

function authorizeUrl(state: string): string {
  return buildAuthorizeUrl(server.issuer, {
    client_id: app.client_id,
    response_type: 'code',
    redirect_uri: callbackUrl,
    scope: 'openid profile email',
    state,
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
  }).href;
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const [viewport, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${viewport}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

/** The mail to `to` carrying a link to `path`, as the SMTP server received and parsed it. */
function mailWithLink(to: string, path: string): Promise<ReceivedMail> {
  const prefix = `${server.issuer}${path}?ticket=`;
  return smtp.waitFor((mail) => mail.envelope.to.includes(to) && mail.text.includes(prefix));
}

/** A password sign-in over HTTP (no browser): the status of the form post. */
async function tryPassword(email: string, password: string): Promise<number> {
  const agent = new HttpBrowser(server.issuer);
  const start = await agent.get(authorizeUrl('x'));
  const page = await agent.get(start.headers.get('location')!);
  return (await agent.postForm('/u/login', { ...formFields(await page.text()), username: email, password })).status;
}

describe(`account flows in Chromium (${backend})`, () => {
  test('forgot password: the mail, the reset page, then back into the same sign-in with the new password', async () => {
    const user = await createUser(server, 'pat@acme.test');
    const { context, page, problems } = await newContext(browser);
    await page.goto(authorizeUrl('reset-flow'));
    await page.getByRole('link', { name: 'Forgot password?' }).waitFor();
    await shoot(page, 'email15b-login-with-forgot-link');
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'email', 'the email field has the focus');
    await page.getByLabel('Email').fill(user.email);
    await shoot(page, 'email15b-forgot-password');
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await shoot(page, 'email15b-reset-link-sent');

    const mail = await mailWithLink(user.email, 'lo/reset');
    assert.equal(mail.from, 'accounts@acme.test');
    const link = ticketLink(mail);
    assert.ok(link.startsWith(`${server.issuer}lo/reset?ticket=`));
    await page.goto(link);
    await page.getByRole('heading', { name: 'Change your password' }).waitFor();
    await shoot(page, 'email15b-reset-form');
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Confirm new password').fill('Something-else-1');
    await page.getByRole('button', { name: 'Reset password' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').textContent(), 'The passwords do not match.');
    await shoot(page, 'email15b-reset-form-error');
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Reset password' }).click();
    await page.getByRole('heading', { name: 'Password changed' }).waitFor();
    await shoot(page, 'email15b-reset-done');

    // Continue: the same sign-in again (same app state), now with the new password.
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Continue' }).waitFor();
    await submitLogin(page, user.email, NEW_PASSWORD);
    await page.locator('#app').waitFor();
    assert.equal(await page.locator('#app').textContent(), 'code=true state=reset-flow');

    await page.goto(link);
    await page.getByRole('heading', { name: 'Link already used' }).waitFor();
    await shoot(page, 'email15b-link-used');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('an expired reset link says so', async () => {
    const user = await createUser(server, 'late@acme.test');
    const ticket = await server.management('POST', '/tickets/password-change', { user_id: user.user_id, ttl_sec: 60 });
    assert.equal(ticket.status, 201);
    clock.advance(120_000);
    const { context, page, problems } = await newContext(browser);
    const response = await page.goto(ticket.body.ticket);
    assert.equal(response?.status(), 410);
    await page.getByRole('heading', { name: 'Link expired' }).waitFor();
    await shoot(page, 'email15b-link-expired');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('email verification: a sign-up gets the mail (a provider is configured), its link verifies the address', async () => {
    const { context, page, problems } = await newContext(browser);
    await page.goto(authorizeUrl('signup-flow'));
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.getByLabel('Email').fill('new-user@acme.test');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#app').waitFor();
    const [created] = (await server.management('GET', '/users-by-email?email=new-user%40acme.test')).body;
    assert.equal(created.email_verified, false);

    const mail = await mailWithLink('new-user@acme.test', 'u/email-verification');
    await page.goto(ticketLink(mail));
    await page.getByRole('heading', { name: 'Email verified' }).waitFor();
    await shoot(page, 'email15b-email-verified');
    const stored = await server.management('GET', `/users/${encodeURIComponent(created.user_id)}`);
    assert.equal(stored.body.email_verified, true);
    // The welcome mail follows the verification, not the sign-up.
    const welcome = await smtp.waitFor((m) => m.envelope.to.includes('new-user@acme.test') && !m.text.includes('u/email-verification'));
    assert.deepEqual((await outboxMails(server, 'new-user@acme.test')).map((mail) => mail.template).sort(), [
      'verify_email',
      'welcome_email',
    ]);
    assert.match(welcome.subject, /welcome/i);
    await page.reload();
    await page.getByRole('heading', { name: 'Link already used' }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the connection option verify_email_on_signup: false turns the sign-up mail off', async () => {
    const [connection] = (await server.management('GET', '/connections?name=Username-Password-Authentication')).body;
    const off = await server.management('PATCH', `/connections/${connection.id}`, {
      options: { ...connection.options, verify_email_on_signup: false },
    });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    const signup = await fetch(`${server.issuer}dbconnections/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: app.client_id,
        email: 'quiet@acme.test',
        password: TEST_PASSWORD,
        connection: 'Username-Password-Authentication',
      }),
    });
    assert.equal(signup.status, 200);
    // A sign-up with the mail on, after it, is delivered: had the first one queued a mail, it would be there by then.
    await server.management('PATCH', `/connections/${connection.id}`, { options: { ...connection.options, verify_email_on_signup: true } });
    const loud = await fetch(`${server.issuer}dbconnections/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: app.client_id,
        email: 'loud@acme.test',
        password: TEST_PASSWORD,
        connection: 'Username-Password-Authentication',
      }),
    });
    assert.equal(loud.status, 200);
    await mailWithLink('loud@acme.test', 'u/email-verification');
    // Without a verification mail, Auth0's welcome mail goes out at sign-up (with one, after the link).
    assert.deepEqual(
      (await outboxMails(server, 'quiet@acme.test')).map((mail) => mail.template),
      ['welcome_email'],
    );
    assert.equal((await outboxMails(server, 'loud@acme.test', 'welcome_email')).length, 0);
  });

  test('unblock: a locked account gets a mail whose link unlocks it, and the user signs in', async () => {
    const user = await createUser(server, 'locked@acme.test');
    for (let i = 0; i < 11; i++) await tryPassword(user.email, `Wrong-guess-${i}`);
    assert.equal(await tryPassword(user.email, TEST_PASSWORD), 429);
    const mail = await mailWithLink(user.email, 'u/unblock');
    const { context, page, problems } = await newContext(browser);
    await page.goto(ticketLink(mail));
    await page.getByRole('heading', { name: 'Account unblocked' }).waitFor();
    await shoot(page, 'email15b-account-unblocked');
    await page.goto(authorizeUrl('after-unblock'));
    await submitLogin(page, user.email, TEST_PASSWORD);
    await page.locator('#app').waitFor();
    assert.equal(await page.locator('#app').textContent(), 'code=true state=after-unblock');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
