/**
 * The account flows by email (issue 15) over HTTP, with Auth0's own SDKs where they exist: the
 * Management SDK's tickets and verification-email job, the authentication SDK's
 * `database.changePassword`, the hosted "Forgot password?" form, the reset page, the verification and
 * unblock links. Mails are read from the outbox (no provider configured: they wait there).
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { ManagementClient } from 'auth0';
import { AuthenticationClient } from 'auth0/legacy';
import { authorizeUrl, Browser, callbackParams, formFields, pkcePair } from './helpers/http-login.js';
import { outboxMails, ticketLink, waitForMails } from './helpers/outbox.js';
import { assertOAuthError, authorizationCode, TestClock, tokenRequest } from './helpers/protocol.js';
import { backend, startTestServer, type TestServer, testCertificates, trustTestCa } from './helpers/server.js';
import { createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const REDIRECT = 'http://127.0.0.1:50999/callback';
const CONNECTION = 'Username-Password-Authentication';
const NEW_PASSWORD = 'Brand-new-password-99';

let server: TestServer;
let app: { client_id: string };
let management: ManagementClient;
let auth: AuthenticationClient;
const clock = new TestClock();

before(async () => {
  trustTestCa();
  server = await startTestServer({ https: true, now: clock.now });
  app = await createNativeApp(server, ['http://127.0.0.1/callback']);
  const domain = new URL(server.issuer).host;
  management = new ManagementClient({ domain, clientId: server.admin.clientId, clientSecret: server.admin.clientSecret });
  auth = new AuthenticationClient({ domain, clientId: app.client_id });
});
after(() => server?.close());

const userPath = (userId: string) => `/users/${encodeURIComponent(userId)}`;

/** Signs in through the hosted page; answers the browser (with its session) and a refresh token. */
async function signIn(email: string, password = TEST_PASSWORD) {
  const browser = new Browser(server.issuer);
  const { code, verifier } = await authorizationCode(
    server,
    browser,
    { client_id: app.client_id, redirect_uri: REDIRECT, scope: 'openid offline_access' },
    { email, password },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return { browser, refreshToken: tokens.body.refresh_token as string };
}

/** A password sign-in on the hosted page: the status of the form post (302 on success, 400 or 429 refused). */
async function tryPassword(email: string, password: string): Promise<number> {
  const browser = new Browser(server.issuer);
  const start = await browser.get(
    authorizeUrl(server.issuer, {
      client_id: app.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }),
  );
  const page = await browser.get(start.headers.get('location')!);
  const response = await browser.postForm('/u/login', { ...formFields(await page.text()), username: email, password });
  return response.status;
}

/** /authorize up to the login page; answers the browser and the page's HTML. */
async function loginPage() {
  const browser = new Browser(server.issuer);
  const start = await browser.get(
    authorizeUrl(server.issuer, {
      client_id: app.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      state: 'app-state-1',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }),
  );
  assert.equal(start.status, 302);
  const page = await browser.get(start.headers.get('location')!);
  return { browser, html: await page.text() };
}

/** The hosted "Forgot password?" form, filled with `email`; answers the status and the page. */
async function forgotPassword(email: string) {
  const { browser, html } = await loginPage();
  const href = /<a href="([^"]+)">Forgot password\?<\/a>/.exec(html)?.[1]?.replace(/&amp;/g, '&');
  assert.ok(href, 'the login page links to "Forgot password?"');
  const form = await browser.get(href);
  assert.equal(form.status, 200);
  const formHtml = await form.text();
  const answer = await browser.postForm('/u/reset-password/request', { ...formFields(formHtml), email });
  return { status: answer.status, html: await answer.text(), headers: answer.headers };
}

/** The reset page a link opens, and its form posted with these passwords. */
async function submitReset(link: string, password: string, confirmation = password) {
  const browser = new Browser(server.issuer);
  const page = await browser.get(link);
  const html = await page.text();
  if (page.status !== 200) return { status: page.status, html, formShown: false };
  const posted = await browser.postForm('/lo/reset', { ...formFields(html), password, password_confirmation: confirmation });
  return { status: posted.status, html: await posted.text(), formShown: true };
}

describe(`account flows by email (${backend})`, () => {
  test('"Forgot password?": the same answer for a user and a stranger; only the user gets a mail, with a link on the issuer', async () => {
    const user = await createUser(server, 'forgetful@example.test');
    const known = await forgotPassword(user.email);
    const unknown = await forgotPassword('nobody-here@example.test');
    assert.equal(known.status, 200);
    assert.equal(unknown.status, known.status);
    assert.equal(
      unknown.html.replace('nobody-here@example.test', 'X').replace(/state=[^"&]+/g, ''),
      known.html.replace(user.email, 'X').replace(/state=[^"&]+/g, ''),
    );
    assert.match(known.html, /Check your email/);
    assert.match(known.headers.get('content-security-policy') ?? '', /default-src 'none'/);

    const [mail] = await waitForMails(server, user.email, 'reset_email');
    const link = ticketLink(mail!);
    assert.ok(link.startsWith(`${server.issuer}lo/reset?ticket=`), link);
    // Give the stranger's background task the same time; it must have queued nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await outboxMails(server, 'nobody-here@example.test')).length, 0);
  });

  test('the reset page: confirmation and policy enforced (the link survives), success signs out everywhere; works once', async () => {
    const user = await createUser(server, 'resets@example.test');
    const device = await signIn(user.email);
    await forgotPassword(user.email);
    const link = ticketLink((await waitForMails(server, user.email, 'reset_email'))[0]!);

    const shown = await new Browser(server.issuer).get(link);
    const shownHtml = await shown.text();
    assert.equal(shown.status, 200);
    assert.match(shownHtml, /At least 8 characters/, 'the policy is shown');
    assert.match(shownHtml, /Confirm new password/);

    const mismatch = await submitReset(link, NEW_PASSWORD, `${NEW_PASSWORD}x`);
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.html, /do not match/);
    const weak = await submitReset(link, 'short');
    assert.equal(weak.status, 400);
    assert.match(weak.html, /too short/);

    const csrfBrowser = new Browser(server.issuer);
    const fields = formFields(await (await csrfBrowser.get(link)).text());
    csrfBrowser.cookies.clear();
    const noCookie = await csrfBrowser.postForm('/lo/reset', { ...fields, password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD });
    assert.equal(noCookie.status, 403, 'no CSRF cookie, no reset');
    assert.match(await noCookie.text(), /The form expired/);

    const done = await submitReset(link, NEW_PASSWORD);
    assert.equal(done.status, 200, done.html);
    assert.match(done.html, /Password changed/);
    // "Continue" starts the sign-in the reset was asked from again.
    const continueHref = /<a class="button" href="([^"]+)">Continue<\/a>/.exec(done.html)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(continueHref?.startsWith(`${server.issuer}authorize?`), continueHref);
    assert.equal(new URL(continueHref!).searchParams.get('state'), 'app-state-1');

    // Sessions and refresh tokens from before are gone.
    const silent = callbackParams(
      await device.browser.get(
        authorizeUrl(server.issuer, {
          client_id: app.client_id,
          response_type: 'code',
          redirect_uri: REDIRECT,
          scope: 'openid',
          code_challenge: pkcePair().challenge,
          code_challenge_method: 'S256',
          prompt: 'none',
        }),
      ),
    );
    assert.equal(silent.get('error'), 'login_required');
    assertOAuthError(
      await tokenRequest(server, { grant_type: 'refresh_token', client_id: app.client_id, refresh_token: device.refreshToken }),
      403,
      'invalid_grant',
    );

    assert.equal(await tryPassword(user.email, TEST_PASSWORD), 400, 'the old password is refused (the form again)');
    assert.equal(await tryPassword(user.email, NEW_PASSWORD), 302, 'the new one works');

    const again = await submitReset(link, 'Another-password-55');
    assert.equal(again.status, 410);
    assert.equal(again.formShown, false);
    assert.match(again.html, /Link already used/);
  });

  test('links are built from the issuer, whatever Host the request names', async () => {
    const user = await createUser(server, 'host-header@example.test');
    const issuer = new URL(server.issuer);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: issuer.hostname,
          port: issuer.port,
          method: 'POST',
          path: '/dbconnections/change_password',
          ca: testCertificates().ca,
          // The certificate names 127.0.0.1, which the forged Host header is not.
          checkServerIdentity: () => undefined,
          headers: { host: 'attacker.example', 'content-type': 'application/json', 'x-forwarded-host': 'attacker.example' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ client_id: app.client_id, email: user.email, connection: CONNECTION }));
    });
    assert.equal(status, 200);
    const [mail] = await waitForMails(server, user.email, 'reset_email');
    assert.ok(ticketLink(mail!).startsWith(`${server.issuer}lo/reset?ticket=`));
    assert.doesNotMatch(mail!.html + mail!.text, /attacker\.example/);
  });

  test("the authentication SDK's database.changePassword: Auth0's text for a user and a stranger, then 429 per recipient", async () => {
    const user = await createUser(server, 'sdk-reset@example.test');
    const answer = await auth.database.changePassword({ email: user.email, connection: CONNECTION });
    assert.equal(answer.data, "We've just sent you an email to reset your password.");
    const stranger = await auth.database.changePassword({ email: 'sdk-stranger@example.test', connection: CONNECTION });
    assert.equal(stranger.data, answer.data);
    await waitForMails(server, user.email, 'reset_email');

    // 5 an hour per recipient; the sixth is refused with Retry-After, stranger or not.
    for (let i = 1; i < 5; i++) await auth.database.changePassword({ email: 'sdk-stranger@example.test', connection: CONNECTION });
    const refused = await fetch(`${server.issuer}dbconnections/change_password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: app.client_id, email: 'sdk-stranger@example.test', connection: CONNECTION }),
    });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    const bad = await fetch(`${server.issuer}dbconnections/change_password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: app.client_id, email: 'not an address', connection: CONNECTION }),
    });
    assert.equal(bad.status, 400);
  });

  test("the Management SDK's tickets.changePassword: result_url, mark_email_as_verified; an expired ticket: a clear page", async () => {
    const user = await createUser(server, 'ticket-reset@example.test');
    const { ticket } = await management.tickets.changePassword({
      user_id: user.user_id,
      result_url: 'https://app.example.test/after-reset',
      mark_email_as_verified: true,
      includeEmailInRedirect: true,
    });
    assert.ok(ticket?.startsWith(`${server.issuer}lo/reset?ticket=`), ticket);
    const done = await submitReset(ticket!, NEW_PASSWORD);
    assert.equal(done.status, 200);
    const href = /<a class="button" href="([^"]+)">Continue<\/a>/.exec(done.html)?.[1]?.replace(/&amp;/g, '&');
    assert.equal(href, `https://app.example.test/after-reset?email=${encodeURIComponent(user.email)}`);
    assert.equal((await server.management('GET', userPath(user.user_id))).body.email_verified, true);

    const short = await management.tickets.changePassword({ user_id: user.user_id, ttl_sec: 60 });
    clock.advance(61_000);
    const expired = await submitReset(short.ticket!, 'Whatever-password-12');
    assert.equal(expired.status, 410);
    assert.match(expired.html, /Link expired/);
    const unknown = await submitReset(`${server.issuer}lo/reset?ticket=${'A'.repeat(43)}`, 'Whatever-password-12');
    assert.equal(unknown.status, 400);
    assert.match(unknown.html, /Invalid link/);

    const byEmail = await server.management('POST', '/tickets/password-change', { email: user.email, connection_id: await connectionId() });
    assert.equal(byEmail.status, 201, JSON.stringify(byEmail.body));
    const missing = await server.management('POST', '/tickets/password-change', { user_id: 'auth0|nobody' });
    assert.equal(missing.status, 404);
    const narrow = await server.managementToken('read:users');
    const forbidden = await server.management('POST', '/tickets/password-change', { user_id: user.user_id }, narrow);
    assert.equal(forbidden.status, 403);
  });

  test('a reset link sent to an address the account no longer has sets no password, even if it escaped being voided', async () => {
    const user = await createUser(server, 'moved-away@example.test');
    const { ticket } = await management.tickets.changePassword({ user_id: user.user_id });
    // The address changes without the usual voiding, as when the link was issued while the change was committing.
    const record = (await server.ctx.storage.users.get(user.user_id))!;
    const moved = { ...record, user: { ...record.user, email: 'new-home@example.test' } };
    assert.equal(await server.ctx.storage.users.update(moved), true);
    const reset = await submitReset(ticket!, NEW_PASSWORD);
    assert.equal(reset.status, 400, reset.html);
    assert.match(reset.html, /Invalid link/);
    assert.equal(await tryPassword('new-home@example.test', TEST_PASSWORD), 302, 'the password is unchanged');
  });

  test("the Management SDK's tickets.verifyEmail: the link verifies once and redirects with Auth0's parameters", async () => {
    const user = await createUser(server, 'ticket-verify@example.test');
    assert.equal(user.email_verified, false);
    const { ticket } = await management.tickets.verifyEmail({
      user_id: user.user_id,
      result_url: 'https://app.example.test/verified',
      includeEmailInRedirect: true,
    });
    assert.ok(ticket?.startsWith(`${server.issuer}u/email-verification?ticket=`), ticket);
    const browser = new Browser(server.issuer);
    const followed = await browser.get(ticket!);
    assert.equal(followed.status, 302);
    const target = new URL(followed.headers.get('location')!);
    assert.equal(target.origin + target.pathname, 'https://app.example.test/verified');
    assert.equal(target.searchParams.get('success'), 'true');
    assert.equal(target.searchParams.get('email'), user.email);
    assert.equal((await server.management('GET', userPath(user.user_id))).body.email_verified, true);
    const again = await browser.get(ticket!);
    assert.equal(again.status, 410);
  });

  test("the Management SDK's jobs.verificationEmail.create mails a verification link; a new email resets email_verified", async () => {
    const user = await createUser(server, 'job-verify@example.test');
    const job = await management.jobs.verificationEmail.create({ user_id: user.user_id, client_id: app.client_id });
    assert.equal(job.type, 'verification_email');
    assert.equal(job.status, 'completed');
    assert.match(job.id ?? '', /^job_/);
    const [mail] = await waitForMails(server, user.email, 'verify_email');
    const oldLink = ticketLink(mail!);
    assert.ok(oldLink.startsWith(`${server.issuer}u/email-verification?ticket=`));

    // A new address: unverified, the old link void, a new link mailed to the new address.
    const patched = await server.management('PATCH', userPath(user.user_id), { email: 'job-verify-new@example.test', verify_email: true });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.email_verified, false);
    const voided = await new Browser(server.issuer).get(oldLink);
    assert.equal(voided.status, 410);
    const [fresh] = await waitForMails(server, 'job-verify-new@example.test', 'verify_email');
    const page = await new Browser(server.issuer).get(ticketLink(fresh!));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Email verified/);
    assert.equal((await server.management('GET', userPath(user.user_id))).body.email_verified, true);

    // An explicit email_verified in the same PATCH is kept.
    const explicit = await server.management('PATCH', userPath(user.user_id), { email: 'job-verify-3@example.test', email_verified: true });
    assert.equal(explicit.body.email_verified, true);
  });

  test('a brute-force lock mails one unblock link; the link lifts the lock, once', async () => {
    const user = await createUser(server, 'locked-out@example.test');
    const statuses: number[] = [];
    for (let i = 0; i < 13; i++) statuses.push(await tryPassword(user.email, `Wrong-password-${i}`));
    assert.ok(statuses.includes(429), `locked after 10 failures: ${statuses.join(',')}`);
    const [mail] = await waitForMails(server, user.email, 'blocked_account');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await outboxMails(server, user.email, 'blocked_account')).length, 1, 'one mail per lock, not per refused attempt');
    assert.equal(await tryPassword(user.email, TEST_PASSWORD), 429, 'locked even with the right password');

    const link = ticketLink(mail!);
    assert.ok(link.startsWith(`${server.issuer}u/unblock?ticket=`), link);
    const unblocked = await new Browser(server.issuer).get(link);
    assert.equal(unblocked.status, 200);
    assert.match(await unblocked.text(), /Account unblocked/);
    assert.equal(await tryPassword(user.email, TEST_PASSWORD), 302);
    assert.equal((await new Browser(server.issuer).get(link)).status, 410);
  });

  test('locking an account over and over does not flood its inbox: blocked-account mails count against the recipient', async () => {
    const user = await createUser(server, 'locked-again@example.test');
    const lockNow = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push(await tryPassword(user.email, `Wrong-password-${i}`));
      assert.equal(statuses.at(-1), 429, `locked: ${statuses.join(',')}`);
    };
    // The attacker locks, the victim unblocks from the mail, the attacker locks again: 5 rounds fill the hour's 5 mails.
    for (let round = 1; round <= 5; round++) {
      await lockNow();
      const mails = await waitForMails(server, user.email, 'blocked_account', round);
      // The newest link unblocks; the older ones were used in earlier rounds.
      const statuses = await Promise.all(mails.map(async (mail) => (await new Browser(server.issuer).get(ticketLink(mail))).status));
      assert.deepEqual(statuses.filter((status) => status === 200).length, 1, `round ${round}: ${statuses.join(',')}`);
    }
    await lockNow();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await outboxMails(server, user.email, 'blocked_account')).length, 5, 'the sixth lock within the hour sends nothing');
  });

  test('sign-up mails a verification link when the connection asks for it, and not otherwise without a provider', async () => {
    const signup = (email: string) =>
      fetch(`${server.issuer}dbconnections/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: app.client_id, email, password: TEST_PASSWORD, connection: CONNECTION }),
      });
    assert.equal((await signup('no-provider@example.test')).status, 200);
    const id = await connectionId();
    const current = (await server.management('GET', `/connections/${id}`)).body;
    const on = await server.management('PATCH', `/connections/${id}`, { options: { ...current.options, verify_email_on_signup: true } });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    const created = await signup('signs-up@example.test');
    assert.equal(created.status, 200);
    assert.equal((await created.json()).email_verified, false);
    const [mail] = await waitForMails(server, 'signs-up@example.test', 'verify_email');
    assert.ok(ticketLink(mail!).startsWith(`${server.issuer}u/email-verification?ticket=`));
    assert.equal((await outboxMails(server, 'no-provider@example.test')).length, 0);
  });

  test('mail-sending requests are limited per address too: fresh recipients from one address get 429 with Retry-After', async () => {
    let refused: Response | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const response = await fetch(`${server.issuer}dbconnections/change_password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: app.client_id, email: `flood-${i}@example.test`, connection: CONNECTION }),
      });
      if (response.status === 429) refused = response;
      else assert.equal(response.status, 200);
    }
    assert.ok(refused, 'the address limit (30 an hour) was reached');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal((await refused.json()).statusCode, 429);
  });
});

async function connectionId(): Promise<string> {
  return (await server.management('GET', `/connections?name=${CONNECTION}`)).body[0].id;
}
