import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authorizeUrl, Browser, callbackParams, formFields, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { assertStrictPage, authorizationCode, TestClock, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * What protects the hosted sign-in: CSRF and the transaction cookie, brute-force lockout, blocked
 * users, sign-up rules, logout without open redirects, and CORS limited to registered origins.
 */
const clock = new TestClock();
let server: TestServer;
let native: { client_id: string };
let spa: { client_id: string };
const callback = 'http://127.0.0.1/callback';
const redirectUri = 'http://127.0.0.1:50300/callback';
const loggedOut = 'http://127.0.0.1/logged-out';
const spaOrigin = 'https://spa.example.test';
const SESSION_COOKIE = 'latchkey_session';
const email = 'login-protection@example.test';

before(async () => {
  server = await startTestServer({ now: clock.now });
  native = await createNativeApp(server, [callback], { allowed_logout_urls: [loggedOut] });
  spa = await createAppClient(server, {
    name: 'Single Page App',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    callbacks: [`${spaOrigin}/callback`],
    web_origins: [spaOrigin],
  });
  await createUser(server, email);
});

after(() => server?.close());

function nativeAuthorize(params: Record<string, string> = {}): URL {
  return authorizeUrl(server.issuer, {
    client_id: native.client_id,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile',
    state: 'client-state',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    ...params,
  });
}

/** /authorize up to the hosted page: answers the page's form fields and its path. */
async function openPage(browser: Browser, params: Record<string, string> = {}): Promise<{ fields: Record<string, string>; path: string }> {
  const start = await browser.get(nativeAuthorize(params));
  assert.equal(start.status, 302);
  const path = start.headers.get('location')!;
  assert.match(path, /^\/u\/(login|signup)\?state=/);
  const page = await browser.get(path);
  assert.equal(page.status, 200);
  return { fields: formFields(await page.text()), path };
}

function setsSessionCookie(response: Response): boolean {
  return response.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=`) && !/max-age=0|expires=thu, 01 jan 1970/i.test(c));
}

async function assertRefusedPage(response: Response, status: number, message: RegExp): Promise<void> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get('location'), null);
  assert.equal(setsSessionCookie(response), false, 'a refused form must not start a session');
  const body = await response.text();
  assert.match(body, message);
  assertStrictPage(response, body);
}

/** Whether this browser's SSO session still answers /authorize without the login page. */
async function stillSignedIn(browser: Browser): Promise<boolean> {
  const response = await browser.get(nativeAuthorize());
  assert.equal(response.status, 302);
  return !response.headers.get('location')!.startsWith('/u/');
}

async function signedInBrowser(who = email): Promise<Browser> {
  const browser = new Browser(server.issuer);
  const response = await signInWithPassword(browser, nativeAuthorize(), who, TEST_PASSWORD);
  assert.ok(callbackParams(response).get('code'));
  assert.ok(browser.cookies.has(SESSION_COOKIE));
  return browser;
}

async function userEmails(): Promise<string[]> {
  const { body } = await server.management('GET', '/users?per_page=100');
  return body.map((u: { email: string }) => u.email);
}

describe('CSRF and the transaction cookie', () => {
  test('POST /u/login without the CSRF token, or with a wrong one, is refused without a session', async () => {
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser);
    const { csrf, ...withoutCsrf } = fields;
    assert.ok(csrf);
    await assertRefusedPage(
      await browser.postForm('/u/login', { ...withoutCsrf, username: email, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    const wrong = { ...fields, csrf: csrf!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) };
    await assertRefusedPage(
      await browser.postForm('/u/login', { ...wrong, username: email, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    await assertRefusedPage(
      await browser.postForm('/u/login', { ...fields, csrf: '', username: email, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    // As many characters as the token but more bytes: refused like any wrong token, not a 500.
    const wide = { ...fields, csrf: 'é'.repeat(csrf!.length) };
    await assertRefusedPage(
      await browser.postForm('/u/login', { ...wide, username: email, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    assert.equal(browser.cookies.has(SESSION_COOKIE), false);
    // The genuine form still works afterwards.
    const ok = await browser.postForm('/u/login', { ...fields, username: email, password: TEST_PASSWORD });
    assert.ok(callbackParams(ok).get('code'));
  });

  test('POST /u/signup without the CSRF token, or with a wrong one, creates no user', async () => {
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser, { screen_hint: 'signup' });
    const newEmail = 'csrf-signup@example.test';
    const { csrf: _csrf, ...withoutCsrf } = fields;
    await assertRefusedPage(
      await browser.postForm('/u/signup', { ...withoutCsrf, email: newEmail, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    await assertRefusedPage(
      await browser.postForm('/u/signup', { ...fields, csrf: 'x'.repeat(32), email: newEmail, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    assert.equal((await userEmails()).includes(newEmail), false);
  });

  test('the form posted from another browser (no transaction cookie) is refused', async () => {
    const victim = new Browser(server.issuer);
    const { fields } = await openPage(victim);
    const attacker = new Browser(server.issuer);
    await assertRefusedPage(
      await attacker.postForm('/u/login', { ...fields, username: email, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    assert.equal(attacker.cookies.has(SESSION_COOKIE), false);
    // Nor does a cookie of the right name with another value help.
    const [name] = [...victim.cookies.keys()].filter((k) => k.startsWith('latchkey_tx_'));
    assert.ok(name);
    attacker.cookies.set(name!, 'forged-value-forged-value-forged-v');
    await assertRefusedPage(
      await attacker.postForm('/u/login', { ...fields, username: email, password: TEST_PASSWORD }),
      403,
      /could not be verified/,
    );
    const signupAttempt = await attacker.postForm('/u/signup', { ...fields, email: 'other-browser@example.test', password: TEST_PASSWORD });
    assert.equal(signupAttempt.status, 403);
    assert.equal((await userEmails()).includes('other-browser@example.test'), false);
  });

  test('signing in again replaces the session cookie (no fixation) and ends the old session', async () => {
    const browser = await signedInBrowser();
    const before = browser.cookies.get(SESSION_COOKIE)!;
    const again = await signInWithPassword(browser, nativeAuthorize({ prompt: 'login' }), email, TEST_PASSWORD);
    assert.ok(callbackParams(again).get('code'));
    const after = browser.cookies.get(SESSION_COOKIE)!;
    assert.notEqual(after, before);
    const planted = new Browser(server.issuer);
    planted.cookies.set(SESSION_COOKIE, before);
    assert.equal(await stillSignedIn(planted), false);
    assert.ok(await stillSignedIn(browser));
  });

  test('a finished or expired transaction cannot be posted again', async () => {
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser);
    const done = await browser.postForm('/u/login', { ...fields, username: email, password: TEST_PASSWORD });
    assert.ok(callbackParams(done).get('code'));
    const replay = new Browser(server.issuer);
    for (const [name, value] of browser.cookies) if (name !== SESSION_COOKIE) replay.cookies.set(name, value);
    await assertRefusedPage(
      await replay.postForm('/u/login', { ...fields, username: email, password: TEST_PASSWORD }),
      400,
      /Sign-in expired/,
    );

    const slow = new Browser(server.issuer);
    const { fields: slowFields } = await openPage(slow);
    clock.advance(61 * 60_000);
    await assertRefusedPage(
      await slow.postForm('/u/login', { ...slowFields, username: email, password: TEST_PASSWORD }),
      400,
      /Sign-in expired/,
    );
  });

  test('repeated state or connection parameters on /u/upstream are a refused sign-in, not a 500', async () => {
    const browser = new Browser(server.issuer);
    const { path } = await openPage(browser);
    const state = new URL(path, server.issuer).searchParams.get('state')!;
    for (const query of ['state=a&state=b', `state=${state}&state=${state}`, `state=${state}&connection=a&connection=b`]) {
      const response = await browser.get(`/u/upstream?${query}`);
      assert.ok(response.status >= 400 && response.status < 500, `${query}: ${response.status}`);
      assertStrictPage(response, await response.text());
    }
  });

  test('an unknown or missing transaction is an expired sign-in, not a session', async () => {
    const browser = new Browser(server.issuer);
    await assertRefusedPage(
      await browser.postForm('/u/login', { state: 'no-such-transaction', csrf: 'x', username: email, password: TEST_PASSWORD }),
      400,
      /Sign-in expired/,
    );
    await assertRefusedPage(await browser.get('/u/login'), 400, /Sign-in expired/);
  });
});

describe('brute force and blocked users', () => {
  test('10 wrong passwords lock the account; the 11th try fails even with the right password, until the lock expires', async () => {
    const victim = 'lockout@example.test';
    await createUser(server, victim);
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser);
    for (let attempt = 1; attempt <= 10; attempt++) {
      const response = await browser.postForm('/u/login', { ...fields, username: victim, password: `Wrong-password-${attempt}` });
      assert.equal(response.status, 400, `attempt ${attempt}`);
      assert.match(await response.text(), /Wrong email or password/);
    }
    const locked = await browser.postForm('/u/login', { ...fields, username: victim, password: TEST_PASSWORD });
    assert.equal(locked.headers.get('retry-after'), String(15 * 60));
    await assertRefusedPage(locked, 429, /Too many failed attempts/);
    // Another account from the same address is not affected.
    const bystander = await signInWithPassword(new Browser(server.issuer), nativeAuthorize(), email, TEST_PASSWORD);
    assert.ok(callbackParams(bystander).get('code'));

    clock.advance(14 * 60_000);
    await assertRefusedPage(
      await browser.postForm('/u/login', { ...fields, username: victim, password: TEST_PASSWORD }),
      429,
      /Too many failed attempts/,
    );
    clock.advance(60_000 + 1_000);
    const unlocked = await browser.postForm('/u/login', { ...fields, username: victim, password: TEST_PASSWORD });
    assert.ok(callbackParams(unlocked).get('code'));
    assert.equal(callbackParams(unlocked).get('state'), 'client-state');
  });

  test('retries while locked do not stretch the lock, even once the counting window has passed', async () => {
    const victim = 'retrying-lockout@example.test';
    await createUser(server, victim);
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser);
    const wrong = (n: number) => browser.postForm('/u/login', { ...fields, username: victim, password: `Wrong-password-${n}` });
    assert.equal((await wrong(0)).status, 400);
    clock.advance(10 * 60_000);
    for (let attempt = 1; attempt <= 9; attempt++) assert.equal((await wrong(attempt)).status, 400, `attempt ${attempt}`);
    // Locked until minute 25; the window that counted those failures ended at minute 15.
    clock.advance(6 * 60_000);
    for (let retry = 0; retry < 12; retry++) assert.equal((await wrong(100 + retry)).status, 429, `retry ${retry}`);
    clock.advance(9 * 60_000 + 1_000);
    const unlocked = await browser.postForm('/u/login', { ...fields, username: victim, password: TEST_PASSWORD });
    assert.ok(callbackParams(unlocked).get('code'), `status ${unlocked.status}`);
  });

  test('wrong passwords sent all at once still get at most 10 checks before the lock', async () => {
    const victim = 'concurrent-lockout@example.test';
    await createUser(server, victim);
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser);
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        browser.postForm('/u/login', { ...fields, username: victim, password: `Wrong-password-${i}` }).then((r) => r.status),
      ),
    );
    const checked = statuses.filter((status) => status === 400).length;
    assert.equal(checked + statuses.filter((status) => status === 429).length, 30, statuses.join(' '));
    assert.ok(checked <= 10, `${checked} passwords were checked`);
    await assertRefusedPage(
      await browser.postForm('/u/login', { ...fields, username: victim, password: TEST_PASSWORD }),
      429,
      /Too many failed attempts/,
    );
    clock.advance(15 * 60_000 + 1_000);
  });

  test('the lock is on the account, whichever of its names (email or username) is typed', async () => {
    const victim = 'two-names@example.test';
    await createUser(server, victim, { username: 'two-names' });
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser);
    for (let attempt = 1; attempt <= 10; attempt++) {
      const response = await browser.postForm('/u/login', { ...fields, username: victim, password: `Wrong-password-${attempt}` });
      assert.equal(response.status, 400, `attempt ${attempt}`);
    }
    await assertRefusedPage(
      await browser.postForm('/u/login', { ...fields, username: 'two-names', password: TEST_PASSWORD }),
      429,
      /Too many failed attempts/,
    );
    clock.advance(15 * 60_000 + 1_000);
  });

  test('a user blocked while the consent page is open gets nothing by accepting it', async () => {
    const blockedEmail = 'blocked-at-consent@example.test';
    const user = await createUser(server, blockedEmail);
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser, { prompt: 'consent' });
    const signedIn = await browser.postForm('/u/login', { ...fields, username: blockedEmail, password: TEST_PASSWORD });
    assert.equal(signedIn.status, 302);
    const consentPath = signedIn.headers.get('location')!;
    assert.match(consentPath, /^\/u\/consent\?state=/);
    const consent = formFields(await (await browser.get(consentPath)).text());
    assert.ok(consent.csrf);
    const patched = await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { blocked: true });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const accepted = await browser.postForm('/u/consent', { ...consent, action: 'accept' });
    assert.ok(accepted.status >= 400 && accepted.status < 500, String(accepted.status));
    assert.equal(accepted.headers.get('location'), null, 'no redirect, so no code or token');
  });

  test('a blocked user is told only after the right password, and gets no session', async () => {
    const blockedEmail = 'blocked@example.test';
    const user = await createUser(server, blockedEmail);
    const session = await signedInBrowser(blockedEmail);
    const patched = await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { blocked: true });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    // The existing SSO session no longer answers for a blocked user.
    assert.equal(await stillSignedIn(session), false);

    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser);
    const wrong = await browser.postForm('/u/login', { ...fields, username: blockedEmail, password: 'Wrong-password-1' });
    assert.equal(wrong.status, 400);
    const wrongBody = await wrong.text();
    assert.match(wrongBody, /Wrong email or password/);
    assert.doesNotMatch(wrongBody, /has been blocked|administrator/i);
    const right = await browser.postForm('/u/login', { ...fields, username: blockedEmail, password: TEST_PASSWORD });
    assert.ok(right.status === 401 || right.status === 403, String(right.status));
    assert.equal(setsSessionCookie(right), false);
    assert.match(await right.text(), /has been blocked/i);
    assert.equal(browser.cookies.has(SESSION_COOKIE), false);
  });
});

describe('sign-up', () => {
  test('screen_hint=signup: a weak password shows the policy; a good one creates the user and signs in', async () => {
    const browser = new Browser(server.issuer);
    const { fields, path } = await openPage(browser, { screen_hint: 'signup' });
    assert.match(path, /^\/u\/signup\?/);
    const newEmail = 'new-user@example.test';
    const weak = await browser.postForm('/u/signup', { ...fields, email: newEmail, password: 'abc' });
    assert.equal(weak.status, 400);
    assert.equal(setsSessionCookie(weak), false);
    const weakBody = await weak.text();
    assertStrictPage(weak, weakBody);
    assert.match(weakBody, /Password is too short/);
    const noDigits = await browser.postForm('/u/signup', { ...fields, email: newEmail, password: 'onlylowercaseletters' });
    assert.equal(noDigits.status, 400);
    assert.match(await noDigits.text(), /at least 3 of/);
    assert.equal((await userEmails()).includes(newEmail), false);

    const created = await browser.postForm('/u/signup', { ...fields, email: newEmail, password: TEST_PASSWORD });
    const params = callbackParams(created);
    assert.ok(params.get('code'));
    assert.equal(params.get('state'), 'client-state');
    assert.ok(browser.cookies.has(SESSION_COOKIE));
    assert.ok((await userEmails()).includes(newEmail));
    // And the new account signs in like any other.
    const again = await signInWithPassword(new Browser(server.issuer), nativeAuthorize(), newEmail, TEST_PASSWORD);
    assert.ok(callbackParams(again).get('code'));
  });

  test('signing up with a taken email does not sign in', async () => {
    const browser = new Browser(server.issuer);
    const { fields } = await openPage(browser, { screen_hint: 'signup' });
    const taken = await browser.postForm('/u/signup', { ...fields, email, password: 'Another-pass-99' });
    assert.equal(taken.status, 400);
    assert.equal(setsSessionCookie(taken), false);
  });

  test('/dbconnections/signup: 200 with {_id, email, email_verified}; weak password and taken email (user_exists) are 400', async () => {
    const signup = (body: Record<string, unknown>) =>
      fetch(`${server.issuer}dbconnections/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const base = { client_id: native.client_id, connection: 'Username-Password-Authentication' };
    const ok = await signup({ ...base, email: 'api-signup@example.test', password: TEST_PASSWORD });
    assert.equal(ok.status, 200);
    const created = (await ok.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(created).sort(), ['_id', 'email', 'email_verified']);
    assert.match(created._id as string, /^[0-9a-f]{24}$/);
    assert.equal(created.email, 'api-signup@example.test');
    assert.equal(created.email_verified, false);

    const weak = await signup({ ...base, email: 'weak@example.test', password: 'abc' });
    assert.equal(weak.status, 400);
    const weakBody = (await weak.json()) as Record<string, unknown>;
    assert.equal(weakBody.code, 'invalid_password');
    assert.equal(weakBody.statusCode, 400);

    const taken = await signup({ ...base, email: 'api-signup@example.test', password: TEST_PASSWORD });
    assert.equal(taken.status, 400);
    // Auth0's answer for a taken email, which Lock and auth0.js show as it is.
    assert.deepEqual(await taken.json(), {
      name: 'BadRequestError',
      code: 'user_exists',
      description: 'The user already exists.',
      statusCode: 400,
    });

    const unknownClient = await signup({ ...base, client_id: 'no-such-client', email: 'x@example.test', password: TEST_PASSWORD });
    assert.equal(unknownClient.status, 400);
    const missingPassword = await signup({ ...base, email: 'y@example.test' });
    assert.equal(missingPassword.status, 400);
    assert.equal((await userEmails()).filter((e) => ['weak@example.test', 'x@example.test', 'y@example.test'].includes(e)).length, 0);
  });
});

describe('/v2/logout', () => {
  test('a returnTo outside the allowed logout URLs gets an error page, no redirect, and the session stays', async () => {
    const browser = await signedInBrowser();
    const queries: Array<Record<string, string>> = [
      { client_id: native.client_id, returnTo: 'https://evil.example/' },
      { client_id: native.client_id, returnTo: `${loggedOut}.evil.example` },
      { client_id: native.client_id, returnTo: `${loggedOut}/../../evil` },
      { client_id: native.client_id, returnTo: callback },
      { returnTo: 'https://evil.example/' },
      { returnTo: loggedOut },
      { client_id: 'no-such-client', returnTo: loggedOut },
    ];
    for (const query of queries) {
      const response = await browser.get(`/v2/logout?${new URLSearchParams(query)}`);
      assert.equal(response.status, 400, JSON.stringify(query));
      assert.equal(response.headers.get('location'), null);
      assertStrictPage(response, await response.text());
    }
    assert.ok(await stillSignedIn(browser));
  });

  test('an allowed returnTo redirects there and ends the session on the server', async () => {
    const browser = await signedInBrowser();
    const cookie = browser.cookies.get(SESSION_COOKIE)!;
    const response = await browser.get(
      `/v2/logout?${new URLSearchParams({ client_id: native.client_id, returnTo: `${loggedOut}?from=app` })}`,
    );
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), `${loggedOut}?from=app`);
    assert.equal(browser.cookies.has(SESSION_COOKIE), false);
    assert.equal(await stillSignedIn(browser), false);
    // The old cookie value is dead too, not just forgotten by this browser.
    browser.cookies.set(SESSION_COOKIE, cookie);
    assert.equal(await stillSignedIn(browser), false);
  });

  test('the tenant list applies without client_id; no returnTo shows the logged-out page', async () => {
    const tenantUrl = 'https://tenant.example.test/bye';
    const patched = await server.management('PATCH', '/tenants/settings', { allowed_logout_urls: [tenantUrl] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const browser = await signedInBrowser();
    const response = await browser.get(`/v2/logout?${new URLSearchParams({ returnTo: tenantUrl })}`);
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), tenantUrl);
    assert.equal(await stillSignedIn(browser), false);

    const other = await signedInBrowser();
    const page = await other.get('/v2/logout');
    assert.equal(page.status, 200);
    const body = await page.text();
    assertStrictPage(page, body);
    assert.match(body, /logged out/);
    assert.equal(await stillSignedIn(other), false);
  });
});

describe('/oidc/logout', () => {
  async function idTokenFor(browser: Browser): Promise<string> {
    const { code, verifier } = await authorizationCode(
      server,
      browser,
      { client_id: native.client_id, redirect_uri: redirectUri },
      { email, password: TEST_PASSWORD },
    );
    const tokens = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: native.client_id,
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return tokens.body.id_token;
  }

  test('an unregistered post_logout_redirect_uri is 400, with or without a client', async () => {
    const browser = await signedInBrowser();
    const idToken = await idTokenFor(browser);
    const queries: Array<Record<string, string>> = [
      { client_id: native.client_id, post_logout_redirect_uri: 'https://evil.example/' },
      { id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example/' },
      { id_token_hint: idToken, post_logout_redirect_uri: `${loggedOut}?x=1` },
      { post_logout_redirect_uri: loggedOut },
      { id_token_hint: 'not.a.token', post_logout_redirect_uri: loggedOut },
    ];
    for (const query of queries) {
      const response = await browser.get(`/oidc/logout?${new URLSearchParams(query)}`);
      assert.equal(response.status, 400, JSON.stringify(query));
      assert.equal(response.headers.get('location'), null);
      assertStrictPage(response, await response.text());
    }
    assert.ok(await stillSignedIn(browser));
  });

  test('a valid id_token_hint for this session logs out and redirects with state', async () => {
    const browser = await signedInBrowser();
    const idToken = await idTokenFor(browser);
    const response = await browser.get(
      `/oidc/logout?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: loggedOut, state: 'bye state' })}`,
    );
    assert.equal(response.status, 302);
    const location = new URL(response.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, loggedOut);
    assert.equal(location.searchParams.get('state'), 'bye state');
    assert.equal(await stillSignedIn(browser), false);
  });

  test('without a hint, a signed-in user is asked first; the confirmation needs its CSRF token', async () => {
    const browser = await signedInBrowser();
    const query = { client_id: native.client_id, post_logout_redirect_uri: loggedOut, state: 'confirm-state' };
    const page = await browser.get(`/oidc/logout?${new URLSearchParams(query)}`);
    assert.equal(page.status, 200);
    const body = await page.text();
    assertStrictPage(page, body);
    assert.match(body, /<form method="post" action="\/oidc\/logout">/);
    const fields = formFields(body);
    assert.ok(fields.csrf);
    assert.ok(await stillSignedIn(browser), 'showing the page must not log out');

    // A cross-site form post has neither the right token nor (SameSite=Lax) the cookie.
    const forged = await browser.postForm('/oidc/logout', { ...fields, csrf: 'forged', action: 'confirm' });
    assert.equal(forged.status, 200);
    assert.ok(await stillSignedIn(browser));
    const fresh = await browser.get(`/oidc/logout?${new URLSearchParams(query)}`);
    const freshFields = formFields(await fresh.text());
    const elsewhere = new Browser(server.issuer);
    elsewhere.cookies.set(SESSION_COOKIE, browser.cookies.get(SESSION_COOKIE)!);
    const noCookie = await elsewhere.postForm('/oidc/logout', { ...freshFields, action: 'confirm' });
    assert.equal(noCookie.status, 200);
    assert.ok(await stillSignedIn(browser));

    const confirmed = await browser.postForm('/oidc/logout', { ...freshFields, action: 'confirm' });
    assert.equal(confirmed.status, 302);
    const location = new URL(confirmed.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, loggedOut);
    assert.equal(location.searchParams.get('state'), 'confirm-state');
    assert.equal(await stillSignedIn(browser), false);
  });

  test('the id_token of another session does not log this one out without asking', async () => {
    const other = await signedInBrowser();
    const foreignToken = await idTokenFor(other);
    const browser = await signedInBrowser();
    const response = await browser.get(
      `/oidc/logout?${new URLSearchParams({ id_token_hint: foreignToken, post_logout_redirect_uri: loggedOut })}`,
    );
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Log out\?/);
    assert.ok(await stillSignedIn(browser));
  });
});

describe('CORS', () => {
  async function preflight(origin: string, path = '/oauth/token') {
    return fetch(`${server.issuer}${path.slice(1)}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, auth0-client' },
    });
  }

  test('a preflight from a client’s web origin is allowed, Auth0-Client header included', async () => {
    const response = await preflight(spaOrigin);
    assert.ok(response.status === 204 || response.status === 200, String(response.status));
    assert.equal(response.headers.get('access-control-allow-origin'), spaOrigin);
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    assert.ok(allowed.includes('auth0-client'), allowed.join());
    assert.ok(allowed.includes('content-type'), allowed.join());
    assert.match(response.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(response.headers.get('vary') ?? '', /origin/i);

    const token = await fetch(`${server.issuer}oauth/token`, {
      method: 'POST',
      headers: { origin: spaOrigin, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', client_id: spa.client_id, refresh_token: 'x' }),
    });
    assert.equal(token.status, 403);
    assert.equal(token.headers.get('access-control-allow-origin'), spaOrigin);
  });

  test('a loopback callback registered without a port allows that loopback origin on any port, and nothing more', async () => {
    for (const origin of ['http://127.0.0.1:5173', 'http://127.0.0.1:50300']) {
      assert.equal((await preflight(origin)).headers.get('access-control-allow-origin'), origin);
    }
    for (const origin of [
      'http://localhost:5173',
      'https://127.0.0.1:5173',
      'http://127.0.0.2:5173',
      'http://[::1]:5173',
      'http://127.0.0.1.evil.example:5173',
    ]) {
      assert.equal((await preflight(origin)).headers.get('access-control-allow-origin'), null, origin);
    }
  });

  test('a loopback callback registered with a port, even :80, allows exactly that origin', async () => {
    await createAppClient(server, {
      name: 'Port 80 app',
      app_type: 'spa',
      token_endpoint_auth_method: 'none',
      callbacks: ['http://[::1]:80/cb'],
    });
    assert.equal((await preflight('http://[::1]')).headers.get('access-control-allow-origin'), 'http://[::1]');
    assert.equal((await preflight('http://[::1]:5173')).headers.get('access-control-allow-origin'), null);
  });

  test('an unknown origin gets no Access-Control-Allow-Origin', async () => {
    for (const origin of ['https://evil.example', 'https://spa.example.test.evil.example', 'null']) {
      const response = await preflight(origin);
      assert.equal(response.headers.get('access-control-allow-origin'), null, origin);
      const userinfo = await fetch(`${server.issuer}userinfo`, { headers: { origin } });
      assert.equal(userinfo.headers.get('access-control-allow-origin'), null, origin);
    }
  });

  test('the hosted login pages and /authorize are not readable cross-origin', async () => {
    const browser = new Browser(server.issuer);
    const start = await browser.request(nativeAuthorize(), { headers: { origin: spaOrigin } });
    assert.equal(start.headers.get('access-control-allow-origin'), null);
    for (const path of ['/u/login', '/authorize', '/api/v2/clients']) {
      const preflightResponse = await preflight(spaOrigin, path);
      assert.equal(preflightResponse.headers.get('access-control-allow-origin'), null, `no CORS preflight grant on ${path}`);
    }
    const page = await browser.request(start.headers.get('location')!, { headers: { origin: spaOrigin } });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('access-control-allow-origin'), null);
    const post = await browser.request('/u/login', {
      method: 'POST',
      headers: { origin: spaOrigin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...formFields(await page.text()), username: email, password: 'wrong' }),
    });
    assert.equal(post.headers.get('access-control-allow-origin'), null);
  });
});
