import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PASSWORD_REALM_GRANT } from '../src/oauth/grants/password.js';
import { authorizeUrl, Browser, callbackParams, formFields, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { assertOAuthError, authorizationCode, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * Changing a password through the Management API ends what the old password may have opened: the
 * user's SSO sessions, refresh tokens and opaque /userinfo tokens. Other users keep theirs, and so
 * does a change that is not a password change.
 */
const REDIRECT = 'http://127.0.0.1:50999/callback';

let server: TestServer;
let app: { client_id: string };

before(async () => {
  server = await startTestServer();
  app = await createNativeApp(server, ['http://127.0.0.1/callback']);
});
after(() => server?.close());

/** Signs in; answers the browser (with its session), a refresh token and the opaque /userinfo token. */
async function signIn(email: string): Promise<{ browser: Browser; refreshToken: string; accessToken: string }> {
  const browser = new Browser(server.issuer);
  const { code, verifier } = await authorizationCode(
    server,
    browser,
    { client_id: app.client_id, redirect_uri: REDIRECT, scope: 'openid profile offline_access' },
    { email, password: TEST_PASSWORD },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.ok(tokens.body.refresh_token);
  return { browser, refreshToken: tokens.body.refresh_token, accessToken: tokens.body.access_token };
}

/** prompt=none through the browser's session: a code (still signed in) or login_required. */
async function silentAuthorize(browser: Browser): Promise<URLSearchParams> {
  const url = authorizeUrl(server.issuer, {
    client_id: app.client_id,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    prompt: 'none',
  });
  return callbackParams(await browser.get(url));
}

const refresh = (refreshToken: string) =>
  tokenRequest(server, { grant_type: 'refresh_token', client_id: app.client_id, refresh_token: refreshToken });
const userinfo = (accessToken: string) => fetch(`${server.issuer}userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });

test('PATCH /api/v2/users/{id} with a password ends sessions, refresh tokens and /userinfo tokens', async () => {
  const user = await createUser(server, 'changes-password@example.test');
  const other = await createUser(server, 'keeps-password@example.test');
  const first = await signIn(user.email);
  const second = await signIn(user.email); // another device
  const bystander = await signIn(other.email);
  assert.ok((await silentAuthorize(first.browser)).get('code'), 'signed in before the change');
  assert.equal((await userinfo(first.accessToken)).status, 200);

  // A profile change is not a password change: everything keeps working.
  assert.equal((await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { name: 'Renamed' })).status, 200);
  assert.ok((await silentAuthorize(first.browser)).get('code'));

  const patched = await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { password: 'A-new-password-77' });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));

  for (const device of [first, second]) {
    assert.equal((await silentAuthorize(device.browser)).get('error'), 'login_required');
    assertOAuthError(await refresh(device.refreshToken), 403, 'invalid_grant'); // Auth0 answers invalid_grant with 403
    assert.equal((await userinfo(device.accessToken)).status, 401);
  }

  // The other user is not affected.
  assert.ok((await silentAuthorize(bystander.browser)).get('code'));
  assert.equal((await refresh(bystander.refreshToken)).status, 200);
  assert.equal((await userinfo(bystander.accessToken)).status, 200);

  // The old password no longer signs in.
  await signIn(user.email).then(
    () => assert.fail('the old password must no longer work'),
    () => {},
  );
});

test('sign-ins racing a password change cannot write the old password back', async () => {
  const user = await createUser(server, 'racing-password@example.test');
  // A fresh browser each time, so no SSO session answers in place of the password.
  const signIn = (password: string) =>
    signInWithPassword(
      new Browser(server.issuer),
      authorizeUrl(server.issuer, {
        client_id: app.client_id,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
      user.email,
      password,
    );
  const attempt = () => signIn(TEST_PASSWORD);
  // Each sign-in reads the user, spends a while hashing, then records the login: the change lands
  // in between. Before, that record wrote the old hash back over the new one.
  const [patched] = await Promise.all([
    server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { password: 'A-new-password-77' }),
    ...Array.from({ length: 6 }, attempt),
  ]);
  assert.equal(patched.status, 200);
  const old = await attempt();
  assert.equal(old.status, 400, 'the old password no longer signs in');
  const fresh = await signIn('A-new-password-77');
  assert.ok(callbackParams(fresh).get('code'), 'the new one does');
});

/**
 * What a sign-in with the old password still had pending is refused after the change: a code not
 * yet redeemed (a minute), and a device approval whose device has not polled yet (fifteen minutes).
 * Before, both still gave a new refresh token family that the change had not seen.
 */
test('a code or a device approval from before the change gives no tokens after it', async () => {
  const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
  const user = await createUser(server, 'pending-grants@example.test');
  const agent = await createNativeApp(server, [], { name: 'CLI', grant_types: [DEVICE_GRANT, 'refresh_token'] });
  const browser = new Browser(server.issuer);
  const { code, verifier } = await authorizationCode(
    server,
    browser,
    { client_id: app.client_id, redirect_uri: REDIRECT, scope: 'openid offline_access' },
    { email: user.email, password: TEST_PASSWORD },
  );
  // The same session approves a device, which has not polled yet.
  const started = await fetch(`${server.issuer}oauth/device/code`, {
    method: 'POST',
    body: new URLSearchParams({ client_id: agent.client_id, scope: 'openid offline_access' }),
  });
  const device = (await started.json()) as { device_code: string; user_code: string };
  const csrf = async () => formFields(await (await browser.get('/activate')).text()).csrf!;
  assert.equal((await browser.postForm('/activate', { csrf: await csrf(), user_code: device.user_code })).status, 200);
  assert.match(
    await (await browser.postForm('/activate/confirm', { csrf: await csrf(), user_code: device.user_code, action: 'confirm' })).text(),
    /Device connected/,
  );

  const patched = await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { password: 'A-new-password-77' });
  assert.equal(patched.status, 200);
  assert.ok(patched.body.last_password_reset, 'the change is recorded as Auth0 names it');

  assertOAuthError(
    await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: app.client_id,
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
    }),
    403,
    'invalid_grant',
  );
  const poll = await tokenRequest(server, { grant_type: DEVICE_GRANT, client_id: agent.client_id, device_code: device.device_code });
  assert.equal(poll.body.error, 'invalid_grant', JSON.stringify(poll.body));
  assert.equal(poll.body.access_token, undefined);

  // A sign-in with the new password is not affected.
  const fresh = await authorizationCode(
    server,
    new Browser(server.issuer),
    { client_id: app.client_id, redirect_uri: REDIRECT, scope: 'openid' },
    { email: user.email, password: 'A-new-password-77' },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code: fresh.code,
    code_verifier: fresh.verifier,
    redirect_uri: REDIRECT,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
});

test('a password change landing after the password was checked but before the session is stored ends that session too', async () => {
  const user = await createUser(server, 'between-check-and-session@example.test');
  const storage = server.ctx.storage;
  const original = storage.sessions.create.bind(storage.sessions);
  // The change lands at the worst moment: the old password has been verified, the session not yet stored.
  storage.sessions.create = async (...args: Parameters<typeof original>) => {
    storage.sessions.create = original;
    const patched = await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { password: 'A-new-password-77' });
    assert.equal(patched.status, 200);
    return original(...args);
  };
  const browser = new Browser(server.issuer);
  try {
    const response = await signInWithPassword(
      browser,
      authorizeUrl(server.issuer, {
        client_id: app.client_id,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
      user.email,
      TEST_PASSWORD,
    );
    // Not back to the app with a code: the sign-in page says it expired (the user signs in again).
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
    assert.match(await response.text(), /Sign-in expired/);
  } finally {
    storage.sessions.create = original;
  }
  assert.equal((await silentAuthorize(browser)).get('error'), 'login_required', 'no live session either');
});

test('the password grant: a change landing after the password was checked revokes the refresh token it made', async () => {
  const user = await createUser(server, 'ropg-race@example.test');
  const client = await createAppClient(server, {
    name: 'ropg',
    app_type: 'regular_web',
    grant_types: [PASSWORD_REALM_GRANT, 'refresh_token'],
  });
  const storage = server.ctx.storage;
  const original = storage.refreshTokens.insert.bind(storage.refreshTokens);
  // The change (and its sign-out everywhere) lands after the password check, before the new family is stored.
  storage.refreshTokens.insert = async (...args: Parameters<typeof original>) => {
    storage.refreshTokens.insert = original;
    assert.equal(
      (await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { password: 'A-new-password-77' })).status,
      200,
    );
    return original(...args);
  };
  let answer;
  try {
    answer = await tokenRequest(server, {
      grant_type: PASSWORD_REALM_GRANT,
      realm: 'Username-Password-Authentication',
      client_id: client.client_id,
      client_secret: client.client_secret!,
      username: user.email,
      password: TEST_PASSWORD,
      scope: 'openid offline_access',
    });
  } finally {
    storage.refreshTokens.insert = original;
  }
  if (answer.status === 200) {
    // Had it answered, its refresh token would have to be dead; it must not answer at all.
    const refresh = await tokenRequest(server, {
      grant_type: 'refresh_token',
      client_id: client.client_id,
      client_secret: client.client_secret!,
      refresh_token: answer.body.refresh_token,
    });
    assert.fail(`tokens for the old password (refresh works: ${refresh.status})`);
  }
  assert.equal(answer.body.error, 'invalid_grant');
});
