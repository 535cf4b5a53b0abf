import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DomainError } from '../src/domain/errors.js';
import type { Client } from '../src/domain/types.js';
import type { SignedIn } from '../src/login/authorization-flow.js';
import { answerUserCode, enterUserCode, INVALID_USER_CODE, reviewUserCode } from '../src/login/device-approval.js';
import { decideAuth0Logout, decideOidcLogout, type LogoutContext } from '../src/login/logout.js';
import { createSession } from '../src/login/sessions.js';
import { signUp } from '../src/login/signup.js';
import { startDeviceAuthorization } from '../src/oauth/device.js';
import { authorizeUrl, Browser, formFields, pkcePair } from './helpers/http-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp, createUser } from './helpers/tenant.js';

/**
 * Device approval, logout and sign-up decided without HTTP: the domain functions are called as the
 * routes call them, on the real storage of a running server (whose HTTP answers must then agree).
 */
const EMAIL = 'decider@example.test';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const DATABASE = 'Username-Password-Authentication';
let server: TestServer;
let client: Client;
let signedIn: SignedIn;

const notRead = async (): Promise<SignedIn | undefined> => {
  throw new Error('the session was read, though the decision does not need it');
};

before(async () => {
  server = await startTestServer();
  const created = await createNativeApp(server, ['http://127.0.0.1/callback'], {
    name: 'Decider TV',
    grant_types: [DEVICE_GRANT, 'authorization_code'],
    allowed_logout_urls: ['https://app.example/bye', 'https://app.example/other'],
  });
  client = (await server.ctx.lookups.client(created.client_id))!.client;
  const user = (await createUser(server, EMAIL)) as SignedIn['user'];
  const settings = await server.ctx.lookups.tenantSettings();
  const now = server.ctx.now();
  const { session } = await createSession(server.ctx.storage, { userId: user.user_id, settings, now, connection: DATABASE });
  signedIn = { user, session };
});
after(() => server?.close());

describe('device approval', () => {
  const newCode = async () => (await startDeviceAuthorization(server.ctx, client, { scope: 'openid profile' })).user_code;

  test('a code typed while signed out starts a sign-in that returns to the confirmation', async () => {
    const userCode = await newCode();
    const step = await enterUserCode(server.ctx, { userCode: userCode.toLowerCase(), ip: '10.1.0.1', signedIn: async () => undefined });
    assert.equal(step.show, 'sign-in');
    assert.ok(step.show === 'sign-in');
    assert.equal(step.tx.device?.userCode, userCode.replace('-', ''));
    assert.equal(step.tx.request.clientId, client.client_id);
    assert.equal(step.tx.request.redirectUri, `${server.issuer}activate`);
  });

  test('signed in: the confirmation names the app, the code and the user; approving decides the code once', async () => {
    const userCode = await newCode();
    const input = { userCode, ip: '10.1.0.2', signedIn: async () => signedIn };
    assert.deepEqual(await reviewUserCode(server.ctx, input), {
      show: 'confirm',
      confirmation: {
        clientName: 'Decider TV',
        userCode,
        userName: EMAIL,
        scopes: ((await enterUserCode(server.ctx, input)) as { confirmation: { scopes: unknown } }).confirmation.scopes,
      },
    });
    assert.deepEqual(await answerUserCode(server.ctx, { ...input, approve: true }), { show: 'done', approved: true });
    const found = await server.ctx.storage.deviceCodes.findByUserCode(userCode.replace('-', ''));
    assert.equal(found?.record.status, 'approved');
    assert.equal(found?.record.approval?.userId, signedIn.user.user_id);
    const again = await answerUserCode(server.ctx, { ...input, approve: false });
    assert.deepEqual(again, { show: 'entry', status: 400, userCode, error: INVALID_USER_CODE });
  });

  test('denying decides the code as denied; without a session the answer goes back to the entry page', async () => {
    const userCode = await newCode();
    const signedOut = await answerUserCode(server.ctx, { userCode, ip: '10.1.0.3', signedIn: async () => undefined, approve: true });
    assert.deepEqual(signedOut, { show: 'entry', status: 200, userCode });
    assert.deepEqual(await answerUserCode(server.ctx, { userCode, ip: '10.1.0.3', signedIn: async () => signedIn, approve: false }), {
      show: 'done',
      approved: false,
    });
    assert.equal((await server.ctx.storage.deviceCodes.findByUserCode(userCode.replace('-', '')))?.record.status, 'denied');
  });

  test('wrong codes are refused without reading the session, and lock the address after the limit', async () => {
    const input = { userCode: 'BCDF-GHJK', ip: '10.1.0.4', signedIn: notRead };
    const first = await enterUserCode(server.ctx, input);
    assert.deepEqual(first, { show: 'entry', status: 400, userCode: 'BCDF-GHJK', error: INVALID_USER_CODE });
    let step = await enterUserCode(server.ctx, input);
    for (let i = 0; i < 60 && step.show === 'entry' && step.status === 400; i++) step = await enterUserCode(server.ctx, input);
    assert.equal(step.show, 'entry');
    assert.ok(step.show === 'entry' && step.status === 429 && step.lock && step.lock.until.getTime() > server.ctx.now());
  });
});

describe('logout decision', () => {
  const ctx = (): LogoutContext => ({
    ...server.ctx,
    upstream: { issuer: server.ctx.issuer, storage: server.ctx.storage, secrets: server.ctx.secrets, now: server.ctx.now, log: () => {} },
  });

  // Without federated, /v2/logout never needs to know who is signed in.
  const auth0Logout = (params: Record<string, string>) => decideAuth0Logout(ctx(), { params, signedIn: notRead });

  test("/v2/logout: returnTo must be one of the client's logout URLs; the first is the default", async () => {
    assert.equal((await auth0Logout({ client_id: client.client_id, returnTo: 'https://evil.example/' })).action, 'refuse');
    assert.deepEqual(await auth0Logout({ client_id: client.client_id, returnTo: 'https://app.example/other?x=1' }), {
      action: 'log-out',
      redirectTo: 'https://app.example/other?x=1',
      confirmed: false,
      clientId: client.client_id,
    });
    assert.deepEqual(await auth0Logout({ client_id: client.client_id }), {
      action: 'log-out',
      redirectTo: 'https://app.example/bye',
      confirmed: false,
      clientId: client.client_id,
    });
    assert.deepEqual(await auth0Logout({ client_id: 'nobody' }), { action: 'refuse', description: 'Unknown client.' });
    // Without client_id the tenant's list applies, which is empty here.
    assert.equal((await auth0Logout({ returnTo: 'https://app.example/bye' })).action, 'refuse');
  });

  test('/v2/logout?federated with a database session: logged out here only', async () => {
    const decision = await decideAuth0Logout(ctx(), { params: { federated: '' }, signedIn: async () => signedIn });
    assert.deepEqual(decision, { action: 'log-out', confirmed: false });
  });

  test('/oidc/logout without a hint asks a signed-in user first, then logs out to the registered URL with state', async () => {
    const params = { client_id: client.client_id, post_logout_redirect_uri: 'https://app.example/bye', state: 's1', action: 'confirm' };
    const ask = await decideOidcLogout(ctx(), { params, signedIn: async () => signedIn, confirmed: false });
    assert.deepEqual(ask, {
      action: 'confirm',
      fields: { client_id: client.client_id, post_logout_redirect_uri: 'https://app.example/bye', state: 's1' },
      formTargets: ['https://app.example/bye?state=s1'],
    });
    assert.deepEqual(await decideOidcLogout(ctx(), { params, signedIn: async () => signedIn, confirmed: true }), {
      action: 'log-out',
      redirectTo: 'https://app.example/bye?state=s1',
      confirmed: true,
      clientId: client.client_id,
    });
    // Nobody signed in: nothing to protect, nothing to confirm.
    assert.deepEqual(await decideOidcLogout(ctx(), { params, signedIn: async () => undefined, confirmed: false }), {
      action: 'log-out',
      redirectTo: 'https://app.example/bye?state=s1',
      confirmed: false,
      clientId: client.client_id,
    });
  });

  test('/oidc/logout refuses an unregistered URL, a URL without a client, and a forged hint', async () => {
    const decide = (params: Record<string, string>) => decideOidcLogout(ctx(), { params, signedIn: notRead, confirmed: false });
    assert.equal((await decide({ client_id: client.client_id, post_logout_redirect_uri: 'https://app.example/byex' })).action, 'refuse');
    assert.deepEqual(await decide({ post_logout_redirect_uri: 'https://app.example/bye' }), {
      action: 'refuse',
      description: 'post_logout_redirect_uri needs an id_token_hint or a client_id.',
    });
    assert.equal((await decide({ id_token_hint: 'eyJhbGciOiJub25lIn0.eyJpYXQiOjF9.' })).action, 'refuse');
  });
});

describe('sign-up: one function behind both surfaces', () => {
  const profileOf = (user: Record<string, unknown>) => {
    // What differs between any two users anyway (ids, the email and what derives from it, times) is left out.
    const { user_id: _u, email: _e, name: _n, nickname: _k, picture: _a, created_at: _c, updated_at: _p, ...rest } = user;
    const { last_login: _l, logins_count: _o, identities, ...same } = rest;
    return { ...same, identities: (identities as Array<Record<string, unknown>>).map(({ user_id: _i, ...identity }) => identity) };
  };
  const userByEmail = async (email: string) =>
    (await server.management('GET', `/users-by-email?email=${encodeURIComponent(email)}`)).body[0];

  async function hostedSignup(email: string, password: string): Promise<Response> {
    const browser = new Browser(server.issuer);
    const start = await browser.get(
      authorizeUrl(server.issuer, {
        client_id: client.client_id,
        response_type: 'code',
        redirect_uri: 'http://127.0.0.1:50321/callback',
        scope: 'openid',
        screen_hint: 'signup',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
    );
    const page = await browser.get(start.headers.get('location')!);
    return browser.postForm('/u/signup', { ...formFields(await page.text()), email, password });
  }
  const apiSignup = (email: string, password: string) =>
    fetch(`${server.issuer}dbconnections/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: client.client_id, connection: DATABASE, email, password }),
    });

  test('the hosted page, /dbconnections/signup and signUp itself make the same user; only the page signs in', async () => {
    const password = 'Same-result-42';
    assert.equal((await hostedSignup('page@example.test', password)).status, 302);
    assert.equal((await apiSignup('api@example.test', password)).status, 200);
    const profile = { email: 'direct@example.test', password };
    const direct = await signUp(server.ctx, { client, connection: DATABASE, profile, ip: '10.2.0.1' });
    assert.equal(direct.connection.name, DATABASE);
    const [page, api, domain] = await Promise.all(['page@example.test', 'api@example.test', 'direct@example.test'].map(userByEmail));
    assert.deepEqual(profileOf(api), profileOf(page));
    assert.deepEqual(profileOf(domain), profileOf(page));
    assert.equal(page.logins_count, 1);
    assert.equal(api.logins_count, 0);
  });

  test('a taken email, a missing password and a disabled sign-up are refused alike', async () => {
    const attempt = (profile: { email?: string; password?: string }) =>
      signUp(server.ctx, { client, connection: DATABASE, profile, ip: '10.2.0.2' }).then(
        () => 'created',
        (err: unknown) => (err instanceof DomainError ? err.code : String(err)),
      );
    assert.equal(await attempt({ email: EMAIL, password: 'Another-one-42' }), 'user_exists');
    assert.equal(await attempt({ email: 'nopass@example.test' }), 'missing_credentials');
    const profile = { email: 'x@example.test', password: 'Another-one-42' };
    const elsewhere = signUp(server.ctx, { client, connection: 'no-such', profile, ip: '10.2.0.2' });
    assert.equal(await elsewhere.catch((err: DomainError) => err.code), 'invalid_connection');

    const connectionId = (await server.management('GET', `/connections?name=${DATABASE}`)).body[0].id;
    await server.management('PATCH', `/connections/${connectionId}`, { options: { disable_signup: true } });
    try {
      assert.equal(await attempt({ email: 'late@example.test', password: 'Another-one-42' }), 'signup_disabled');
      const api = await apiSignup('late@example.test', 'Another-one-42');
      assert.equal(api.status, 403);
      assert.equal(((await api.json()) as { code: string }).code, 'operation_not_allowed');
      // The page itself is not offered while sign-up is off (GET /u/signup answers 403 with the login form).
    } finally {
      await server.management('PATCH', `/connections/${connectionId}`, { options: { disable_signup: false } });
    }
  });
});
