import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, pkcePair } from './helpers/http-login.js';
import { assertOAuthError, authorizationCode, claimsOf, TestClock, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createAppClient, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * /oauth/token rules for user grants: what binds a code (PKCE, client, redirect_uri, lifetime,
 * single use), refresh token rotation with reuse detection, scope narrowing, which tokens come
 * back, /userinfo and /oauth/revoke, and the password grants.
 */
const clock = new TestClock();
const lockoutVictim = 'password-grant-lockout@example.test';
let server: TestServer;
const apiId = 'https://api.example.test/';
const closedApiId = 'https://no-offline.example.test/';
const callback = 'http://127.0.0.1/callback';
const redirectUri = 'http://127.0.0.1:50200/callback';
const email = 'token-rules@example.test';
const credentials = { email, password: TEST_PASSWORD };
const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';
let userId: string;
let native: { client_id: string };
let other: { client_id: string };
let withLeeway: { client_id: string };
let noRefreshGrant: { client_id: string };
let firstParty: { client_id: string; client_secret?: string };
let thirdParty: { client_id: string; client_secret?: string };
/** Signed in once, then every /authorize rides the SSO session. */
let browser: Browser;

before(async () => {
  server = await startTestServer({ now: clock.now });
  await createApi(server, apiId);
  const closed = await server.management('POST', '/resource-servers', {
    name: 'No offline access',
    identifier: closedApiId,
    allow_offline_access: false,
    skip_consent_for_verifiable_first_party_clients: true,
    scopes: [{ value: 'read:things' }],
  });
  assert.equal(closed.status, 201, JSON.stringify(closed.body));
  native = await createNativeApp(server, [callback]);
  other = await createNativeApp(server, [callback], { name: 'Other App' });
  withLeeway = await createNativeApp(server, [callback], { name: 'Leeway App', refresh_token: { rotation_type: 'rotating', leeway: 30 } });
  noRefreshGrant = await createNativeApp(server, [callback], { name: 'No refresh', grant_types: ['authorization_code'] });
  const confidential = {
    app_type: 'regular_web',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token', 'password', PASSWORD_REALM],
    callbacks: ['https://web.example.test/callback'],
  };
  firstParty = await createAppClient(server, { name: 'First-party Web', ...confidential });
  thirdParty = await createAppClient(server, { name: 'Third-party Web', is_first_party: false, ...confidential });
  const settings = await server.management('PATCH', '/tenants/settings', { default_directory: 'Username-Password-Authentication' });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  userId = (await createUser(server, email)).user_id;
  // Made now: later tests move the clock past the lifetime of the Management API token.
  await createUser(server, lockoutVictim);
  browser = new Browser(server.issuer);
});

after(() => server?.close());

async function codeFor(clientId: string, params: Record<string, string> = {}) {
  return authorizationCode(server, browser, { client_id: clientId, redirect_uri: redirectUri, ...params }, credentials);
}

function exchange(clientId: string, code: string, verifier: string | undefined, extra: Record<string, string> = {}) {
  return tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    redirect_uri: redirectUri,
    ...(verifier !== undefined ? { code_verifier: verifier } : {}),
    ...extra,
  });
}

/** Tokens from a fresh code for the native app (offline_access included unless overridden). */
async function tokensFor(clientId = native.client_id, params: Record<string, string> = {}) {
  const { code, verifier } = await codeFor(clientId, { scope: 'openid profile email offline_access', ...params });
  const result = await exchange(clientId, code, verifier);
  assert.equal(result.status, 200, JSON.stringify(result.body));
  return result.body;
}

function refresh(clientId: string, refreshToken: string, extra: Record<string, string> = {}) {
  return tokenRequest(server, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, ...extra });
}

async function userinfo(token: string | undefined, header?: string) {
  const response = await fetch(`${server.issuer}userinfo`, {
    headers: header !== undefined ? { authorization: header } : token !== undefined ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, challenge: response.headers.get('www-authenticate') };
}

describe('authorization codes', () => {
  test('a missing or wrong code_verifier is invalid_grant and does not burn the code', async () => {
    const { code, verifier } = await codeFor(native.client_id);
    assertOAuthError(await exchange(native.client_id, code, undefined), 403, 'invalid_grant');
    assertOAuthError(await exchange(native.client_id, code, pkcePair().verifier), 403, 'invalid_grant');
    assertOAuthError(await exchange(native.client_id, code, 'short'), 403, 'invalid_grant');
    // The challenge itself is not a verifier (that would be `plain`).
    const result = await exchange(native.client_id, code, verifier);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.token_type, 'Bearer');
    assert.equal(result.headers.get('cache-control'), 'no-store');
  });

  test('a replayed code is invalid_grant and revokes the refresh token it issued', async () => {
    const { code, verifier } = await codeFor(native.client_id, { scope: 'openid offline_access' });
    const first = await exchange(native.client_id, code, verifier);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.refresh_token);
    assertOAuthError(await exchange(native.client_id, code, verifier), 403, 'invalid_grant');
    assertOAuthError(await refresh(native.client_id, first.body.refresh_token), 403, 'invalid_grant');
  });

  test('a replayed code also revokes the opaque /userinfo token it issued', async () => {
    const { code, verifier } = await codeFor(native.client_id, { scope: 'openid profile' });
    const first = await exchange(native.client_id, code, verifier);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.access_token.split('.').length, 1, 'no audience: an opaque token');
    assert.equal((await userinfo(first.body.access_token)).status, 200);
    assertOAuthError(await exchange(native.client_id, code, verifier), 403, 'invalid_grant');
    assert.equal((await userinfo(first.body.access_token)).status, 401);
  });

  test('the same code presented several times at once: at most one answer, and its tokens die with the replay', async () => {
    for (let round = 0; round < 3; round++) {
      const { code, verifier } = await codeFor(native.client_id, { scope: 'openid offline_access' });
      const answers = await Promise.all(Array.from({ length: 4 }, () => exchange(native.client_id, code, verifier)));
      const granted = answers.filter((a) => a.status === 200);
      assert.ok(granted.length <= 1, `${granted.length} answers for one code`);
      for (const answer of answers) if (answer.status !== 200) assertOAuthError(answer, 403, 'invalid_grant');
      for (const { body } of granted) assertOAuthError(await refresh(native.client_id, body.refresh_token), 403, 'invalid_grant');
    }
  });

  test('a replay also revokes the tokens the family rotated to since', async () => {
    const { code, verifier } = await codeFor(native.client_id, { scope: 'openid offline_access' });
    const first = await exchange(native.client_id, code, verifier);
    const rotated = await refresh(native.client_id, first.body.refresh_token);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assertOAuthError(await exchange(native.client_id, code, verifier), 403, 'invalid_grant');
    assertOAuthError(await refresh(native.client_id, rotated.body.refresh_token), 403, 'invalid_grant');
  });

  test('a code presented by another client is invalid_grant (and stays good for its own)', async () => {
    const { code, verifier } = await codeFor(native.client_id);
    assertOAuthError(await exchange(other.client_id, code, verifier), 403, 'invalid_grant');
    const own = await exchange(native.client_id, code, verifier);
    assert.equal(own.status, 200, JSON.stringify(own.body));
  });

  test('a redirect_uri other than the authorization request’s is invalid_grant', async () => {
    const { code, verifier } = await codeFor(native.client_id);
    assertOAuthError(
      await exchange(native.client_id, code, verifier, { redirect_uri: 'http://127.0.0.1:50201/callback' }),
      403,
      'invalid_grant',
    );
    assertOAuthError(await exchange(native.client_id, code, verifier, { redirect_uri: callback }), 403, 'invalid_grant');
    const missing = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: native.client_id,
      code,
      code_verifier: verifier,
    });
    assertOAuthError(missing, 403, 'invalid_grant');
    assert.equal((await exchange(native.client_id, code, verifier)).status, 200);
  });

  test('a code expires after 60 seconds', async () => {
    const { code, verifier } = await codeFor(native.client_id);
    clock.advance(61_000);
    assertOAuthError(await exchange(native.client_id, code, verifier), 403, 'invalid_grant');
  });

  test('an unknown code is invalid_grant; a missing one invalid_request', async () => {
    assertOAuthError(await exchange(native.client_id, 'no-such-code', pkcePair().verifier), 403, 'invalid_grant');
    const missing = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: native.client_id,
      redirect_uri: redirectUri,
    });
    assertOAuthError(missing, 400, 'invalid_request');
  });

  test('the id_token carries nonce, sid and auth_time; the same session gives the same sid', async () => {
    const signedInAt = Math.floor(clock.value / 1000);
    const fresh = new Browser(server.issuer);
    const first = await authorizationCode(
      server,
      fresh,
      { client_id: native.client_id, redirect_uri: redirectUri, nonce: 'nonce-1' },
      credentials,
    );
    clock.advance(5_000);
    const second = await authorizationCode(
      server,
      fresh,
      { client_id: native.client_id, redirect_uri: redirectUri, nonce: 'nonce-2' },
      credentials,
    );
    const a = await exchange(native.client_id, first.code, first.verifier);
    const b = await exchange(native.client_id, second.code, second.verifier);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    const one = claimsOf(a.body.id_token);
    const two = claimsOf(b.body.id_token);
    assert.equal(one.nonce, 'nonce-1');
    assert.equal(two.nonce, 'nonce-2');
    assert.equal(one.iss, server.issuer);
    assert.equal(one.sub, userId);
    assert.equal(one.aud, native.client_id);
    assert.equal(one.exp - one.iat, 36000);
    assert.equal(typeof one.sid, 'string');
    assert.equal(one.sid, two.sid);
    assert.equal(one.auth_time, signedInAt);
    assert.equal(two.auth_time, signedInAt);
    assert.equal(one.email, email);
    assert.equal(one.name, 'Ada Lovelace');
  });

  test('the token endpoint also takes JSON', async () => {
    const { code, verifier } = await codeFor(native.client_id);
    const response = await fetch(`${server.issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        client_id: native.client_id,
        code,
        code_verifier: verifier,
        redirect_uri: redirectUri,
      }),
    });
    assert.equal(response.status, 200);
    assert.ok(((await response.json()) as { id_token?: string }).id_token);
  });

  test('parameters the endpoint does not read are ignored whatever their type; its own must be single strings', async () => {
    const post = (body: Record<string, unknown>) =>
      fetch(`${server.issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const { code, verifier } = await codeFor(native.client_id);
    const base = {
      grant_type: 'authorization_code',
      client_id: native.client_id,
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    };
    const repeated = await post({ ...base, code: [code, code] });
    assert.equal(repeated.status, 400);
    assert.equal(((await repeated.json()) as { error: string }).error, 'invalid_request');
    const numeric = await post({ ...base, code_verifier: 42 });
    assert.equal(numeric.status, 400);
    const extras = await post({ ...base, auth0Client: { name: 'sdk', version: 2 }, organization: null, extra: [1, 2], flag: true });
    assert.equal(extras.status, 200, await extras.clone().text());
  });
});

describe('refresh tokens', () => {
  test('rotation: a new token each time; the old one is refused and revokes the family', async () => {
    const initial = await tokensFor();
    const next = await refresh(native.client_id, initial.refresh_token);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.ok(next.body.refresh_token);
    assert.notEqual(next.body.refresh_token, initial.refresh_token);
    assert.equal(next.headers.get('cache-control'), 'no-store');

    assertOAuthError(await refresh(native.client_id, initial.refresh_token), 403, 'invalid_grant');
    // Reuse means a stolen copy: the legitimate successor is revoked too.
    assertOAuthError(await refresh(native.client_id, next.body.refresh_token), 403, 'invalid_grant');
  });

  test('the leeway tolerates a reused token for a while (a lost response), not after', async () => {
    const initial = await tokensFor(withLeeway.client_id);
    const next = await refresh(withLeeway.client_id, initial.refresh_token);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    clock.advance(10_000);
    const retried = await refresh(withLeeway.client_id, initial.refresh_token);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.ok(retried.body.refresh_token);
    // Both successors stay usable within the leeway.
    const fromNext = await refresh(withLeeway.client_id, next.body.refresh_token);
    assert.equal(fromNext.status, 200, JSON.stringify(fromNext.body));

    clock.advance(25_000); // 35 s after the first rotation
    assertOAuthError(await refresh(withLeeway.client_id, initial.refresh_token), 403, 'invalid_grant');
    assertOAuthError(await refresh(withLeeway.client_id, fromNext.body.refresh_token), 403, 'invalid_grant');
    assertOAuthError(await refresh(withLeeway.client_id, retried.body.refresh_token), 403, 'invalid_grant');
  });

  test('a refresh token belongs to its client', async () => {
    const initial = await tokensFor();
    assertOAuthError(await refresh(other.client_id, initial.refresh_token), 403, 'invalid_grant');
    assert.equal((await refresh(native.client_id, initial.refresh_token)).status, 200);
  });

  test('scope may narrow on refresh; widening is invalid_scope', async () => {
    const initial = await tokensFor(native.client_id, { scope: 'openid profile offline_access' });
    assert.equal(initial.scope, 'openid profile offline_access');
    const narrowed = await refresh(native.client_id, initial.refresh_token, { scope: 'openid' });
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    assert.equal(narrowed.body.scope, 'openid');
    assert.equal(claimsOf(narrowed.body.id_token).name, undefined);
    const info = await userinfo(narrowed.body.access_token);
    assert.equal(info.status, 200);
    assert.equal(info.body.name, undefined);

    // The grant itself keeps its scopes: the next refresh may ask for profile again.
    const restored = await refresh(native.client_id, narrowed.body.refresh_token, { scope: 'openid profile' });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.scope, 'openid profile');

    const widened = await refresh(native.client_id, restored.body.refresh_token, { scope: 'openid profile email' });
    assertOAuthError(widened, 403, 'invalid_scope');
    // A refused request must not cost the client its refresh token.
    const after = await refresh(native.client_id, restored.body.refresh_token);
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.equal(after.body.scope, 'openid profile offline_access');
  });

  test('on refresh, scopes the API does not define are dropped as at /authorize; defined ones still may not widen', async () => {
    const initial = await tokensFor(native.client_id, { scope: 'openid offline_access read:messages undefined:scope', audience: apiId });
    assert.equal(initial.scope, 'openid offline_access read:messages');
    // What auth0-spa-js sends: the scope it asked for at first, undefined one included.
    const again = await refresh(native.client_id, initial.refresh_token, { scope: 'openid offline_access read:messages undefined:scope' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.scope, 'openid offline_access read:messages');
    assertOAuthError(
      await refresh(native.client_id, again.body.refresh_token, { scope: 'openid profile read:messages' }),
      403,
      'invalid_scope',
    );
  });

  test('a refresh token needs offline_access, the refresh_token grant, and an API that allows it', async () => {
    assert.equal((await tokensFor(native.client_id, { scope: 'openid profile' })).refresh_token, undefined);
    assert.ok((await tokensFor(native.client_id, { scope: 'openid offline_access', audience: apiId })).refresh_token);
    const closed = await tokensFor(native.client_id, { scope: 'openid offline_access read:things', audience: closedApiId });
    assert.equal(closed.refresh_token, undefined);
    assert.doesNotMatch(closed.scope, /offline_access/);
    assert.equal((await tokensFor(noRefreshGrant.client_id, { scope: 'openid offline_access' })).refresh_token, undefined);
  });

  test('a refresh response for openid carries a new id_token (no nonce), and the API token again', async () => {
    const initial = await tokensFor(native.client_id, {
      scope: 'openid email offline_access read:messages',
      audience: apiId,
      nonce: 'refresh-nonce',
    });
    assert.equal(claimsOf(initial.id_token).nonce, 'refresh-nonce');
    clock.advance(2_000);
    const next = await refresh(native.client_id, initial.refresh_token);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.ok(next.body.id_token);
    const idToken = claimsOf(next.body.id_token);
    assert.equal(idToken.sub, userId);
    assert.equal(idToken.aud, native.client_id);
    assert.equal(idToken.sid, claimsOf(initial.id_token).sid);
    assert.equal(idToken.auth_time, claimsOf(initial.id_token).auth_time);
    assert.equal(idToken.nonce, undefined);
    assert.ok(idToken.iat > claimsOf(initial.id_token).iat);
    const access = claimsOf(next.body.access_token);
    assert.deepEqual(access.aud, [apiId, `${server.issuer}userinfo`]);
    assert.equal(access.scope, 'openid email offline_access read:messages');
  });

  test('an unknown or malformed refresh token is invalid_grant', async () => {
    assertOAuthError(await refresh(native.client_id, 'not-a-token'), 403, 'invalid_grant');
    assertOAuthError(await tokenRequest(server, { grant_type: 'refresh_token', client_id: native.client_id }), 400, 'invalid_request');
  });
});

describe('blocked users', () => {
  test('blocking a user stops its codes, refresh tokens and /userinfo', async () => {
    const blockedEmail = 'blocked-later@example.test';
    const user = await createUser(server, blockedEmail);
    const own = new Browser(server.issuer);
    const params = { client_id: native.client_id, redirect_uri: redirectUri, scope: 'openid offline_access' };
    const first = await authorizationCode(server, own, params, { email: blockedEmail, password: TEST_PASSWORD });
    const tokens = await exchange(native.client_id, first.code, first.verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const pending = await authorizationCode(server, own, params, { email: blockedEmail, password: TEST_PASSWORD });

    const patched = await server.management('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { blocked: true });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assertOAuthError(await exchange(native.client_id, pending.code, pending.verifier), 403, 'invalid_grant');
    assertOAuthError(await refresh(native.client_id, tokens.body.refresh_token), 403, 'invalid_grant');
    assert.equal((await userinfo(tokens.body.access_token)).status, 401);
  });
});

describe('access tokens and /userinfo', () => {
  test('no audience: an opaque access token that works at /userinfo', async () => {
    const tokens = await tokensFor(native.client_id, { scope: 'openid email' });
    assert.notEqual(tokens.access_token.split('.').length, 3);
    assert.equal(tokens.expires_in, 86400);
    const info = await userinfo(tokens.access_token);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.equal(info.body.sub, userId);
    assert.equal(info.body.email, email);
    assert.equal(info.body.name, undefined, 'profile was not asked for');
  });

  test('audience with openid: a JWT for [API, issuer/userinfo] that also works at /userinfo', async () => {
    const tokens = await tokensFor(native.client_id, { scope: 'openid profile read:messages', audience: apiId });
    const claims = claimsOf(tokens.access_token);
    assert.equal(claims.iss, server.issuer);
    assert.equal(claims.sub, userId);
    assert.deepEqual(claims.aud, [apiId, `${server.issuer}userinfo`]);
    assert.equal(claims.azp, native.client_id);
    assert.equal(claims.scope, 'openid profile read:messages');
    const info = await userinfo(tokens.access_token);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.equal(info.body.sub, userId);
    assert.equal(info.body.name, 'Ada Lovelace');
  });

  test('audience without openid: aud is the API alone, and /userinfo refuses the token', async () => {
    const tokens = await tokensFor(native.client_id, { scope: 'read:messages', audience: apiId });
    assert.equal(tokens.id_token, undefined);
    assert.equal(claimsOf(tokens.access_token).aud, apiId);
    const info = await userinfo(tokens.access_token);
    assert.equal(info.status, 401);
    assert.match(info.challenge!, /^Bearer .*error="invalid_token"/);
  });

  test('/userinfo answers 401 with WWW-Authenticate to missing, unknown, altered and expired tokens', async () => {
    const missing = await userinfo(undefined);
    assert.equal(missing.status, 401);
    assert.match(missing.challenge!, /^Bearer realm=/);

    for (const token of ['unknown-opaque-token', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      const result = await userinfo(token);
      assert.equal(result.status, 401, token);
      assert.match(result.challenge!, /^Bearer .*error="invalid_token"/);
    }
    const jwt = (await tokensFor(native.client_id, { scope: 'openid', audience: apiId })).access_token as string;
    const [header, payload, signature] = jwt.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(jwt), sub: 'auth0|someone-else' })).toString('base64url');
    assert.equal((await userinfo(`${header}.${forged}.${signature}`)).status, 401);
    assert.notEqual(payload, forged);

    const malformed = await userinfo(undefined, 'Basic abc');
    assert.equal(malformed.status, 400);
    assert.match(malformed.challenge!, /error="invalid_request"/);

    const opaque = (await tokensFor(native.client_id, { scope: 'openid' })).access_token as string;
    assert.equal((await userinfo(jwt)).status, 200);
    assert.equal((await userinfo(opaque)).status, 200);
    clock.advance(86_401_000);
    for (const token of [jwt, opaque]) {
      const expired = await userinfo(token);
      assert.equal(expired.status, 401);
      assert.match(expired.challenge!, /error="invalid_token"/);
    }
  });
});

describe('/oauth/revoke', () => {
  test('answers 200 with an empty body, and the family no longer refreshes', async () => {
    const initial = await tokensFor();
    const next = await refresh(native.client_id, initial.refresh_token);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    const response = await fetch(`${server.issuer}oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: native.client_id, token: next.body.refresh_token }),
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '');
    assertOAuthError(await refresh(native.client_id, next.body.refresh_token), 403, 'invalid_grant');
  });

  test('revoking the first token of a family revokes its successors', async () => {
    const initial = await tokensFor();
    const next = await refresh(native.client_id, initial.refresh_token);
    const response = await fetch(`${server.issuer}oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: native.client_id, token: initial.refresh_token }),
    });
    assert.equal(response.status, 200);
    assertOAuthError(await refresh(native.client_id, next.body.refresh_token), 403, 'invalid_grant');
  });

  test('another client cannot revoke a token; unknown tokens are accepted silently', async () => {
    const initial = await tokensFor();
    const revoke = (body: Record<string, string>) =>
      fetch(`${server.issuer}oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const byOther = await revoke({ client_id: other.client_id, token: initial.refresh_token });
    assert.equal(byOther.status, 200);
    assert.equal((await revoke({ client_id: native.client_id, token: 'never-issued' })).status, 200);
    assert.equal((await refresh(native.client_id, initial.refresh_token)).status, 200);
  });

  test('a confidential client must authenticate to revoke', async () => {
    const issued = await tokenRequest(server, {
      grant_type: 'password',
      client_id: firstParty.client_id,
      client_secret: firstParty.client_secret!,
      username: email,
      password: TEST_PASSWORD,
      scope: 'openid offline_access',
    });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const unauthenticated = await fetch(`${server.issuer}oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: firstParty.client_id, token: issued.body.refresh_token }),
    });
    assert.equal(unauthenticated.status, 401);
    assert.equal(((await unauthenticated.json()) as { error: string }).error, 'invalid_client');
    const revoked = await fetch(`${server.issuer}oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: firstParty.client_id, client_secret: firstParty.client_secret, token: issued.body.refresh_token }),
    });
    assert.equal(revoked.status, 200);
    const after = await refresh(firstParty.client_id, issued.body.refresh_token, { client_secret: firstParty.client_secret! });
    assertOAuthError(after, 403, 'invalid_grant');
  });
});

describe('password grants', () => {
  const passwordParams = (client: { client_id: string; client_secret?: string }, extra: Record<string, string> = {}) => ({
    grant_type: 'password',
    client_id: client.client_id,
    client_secret: client.client_secret!,
    username: email,
    password: TEST_PASSWORD,
    scope: 'openid profile offline_access',
    ...extra,
  });

  test('password grant for a first-party confidential client returns tokens', async () => {
    const result = await tokenRequest(
      server,
      passwordParams(firstParty, { audience: apiId, scope: 'openid read:messages offline_access' }),
    );
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.ok(result.body.id_token);
    assert.ok(result.body.refresh_token);
    const access = claimsOf(result.body.access_token);
    assert.equal(access.sub, userId);
    assert.equal(access.gty, 'password');
    assert.equal(claimsOf(result.body.id_token).aud, firstParty.client_id);
  });

  test('wrong passwords lock the account: too_many_attempts, 429, with when to come back', async () => {
    const victim = lockoutVictim;
    for (let attempt = 1; attempt <= 10; attempt++) {
      assertOAuthError(
        await tokenRequest(server, passwordParams(firstParty, { username: victim, password: `Wrong-${attempt}` })),
        403,
        'invalid_grant',
      );
    }
    const locked = await tokenRequest(server, passwordParams(firstParty, { username: victim }));
    assertOAuthError(locked, 429, 'too_many_attempts');
    assert.equal(locked.headers.get('retry-after'), String(15 * 60));
    assert.equal(locked.headers.get('x-ratelimit-limit'), '10');
    assert.equal(locked.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(Number(locked.headers.get('x-ratelimit-reset')), Math.ceil((clock.value + 15 * 60_000) / 1000));
  });

  test('password-realm names the connection', async () => {
    const result = await tokenRequest(
      server,
      passwordParams(firstParty, { grant_type: PASSWORD_REALM, realm: 'Username-Password-Authentication' }),
    );
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(claimsOf(result.body.id_token).sub, userId);
    const unknownRealm = await tokenRequest(
      server,
      passwordParams(firstParty, { grant_type: PASSWORD_REALM, realm: 'No-Such-Connection' }),
    );
    assert.equal(unknownRealm.status >= 400 && unknownRealm.status < 500, true);
    assert.equal(unknownRealm.body.access_token, undefined);
  });

  test('a wrong password (or unknown user) is 403 invalid_grant, the same for both', async () => {
    const wrong = await tokenRequest(server, passwordParams(firstParty, { password: 'Wrong-password-1' }));
    assertOAuthError(wrong, 403, 'invalid_grant');
    const unknown = await tokenRequest(server, passwordParams(firstParty, { username: 'nobody@example.test' }));
    assertOAuthError(unknown, 403, 'invalid_grant');
    assert.equal(unknown.body.error_description, wrong.body.error_description);
    const realm = await tokenRequest(
      server,
      passwordParams(firstParty, { grant_type: PASSWORD_REALM, realm: 'Username-Password-Authentication', password: 'x' }),
    );
    assertOAuthError(realm, 403, 'invalid_grant');
  });

  test('a third-party client is refused, even with the right password', async () => {
    const result = await tokenRequest(server, passwordParams(thirdParty));
    assert.equal(result.status, 403, JSON.stringify(result.body));
    assert.equal(result.body.access_token, undefined);
    assert.ok(['unauthorized_client', 'invalid_grant'].includes(result.body.error), result.body.error);
  });

  test('a client without the grant type, or without its secret, is refused', async () => {
    const noGrant = await tokenRequest(server, {
      grant_type: 'password',
      client_id: native.client_id,
      username: email,
      password: TEST_PASSWORD,
    });
    assertOAuthError(noGrant, 403, 'unauthorized_client');
    const noSecret = await tokenRequest(server, {
      grant_type: 'password',
      client_id: firstParty.client_id,
      username: email,
      password: TEST_PASSWORD,
    });
    assertOAuthError(noSecret, 401, 'invalid_client');
  });
});
