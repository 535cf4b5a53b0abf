import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { authorizeUrl, Browser, callbackParams, formFields, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { assertStrictPage, claimsOf, cspDirective, decodeHtml, TestClock, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createNativeApp, createUser, makeDatabaseConnectionDomainWide, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * /authorize rules at the protocol level: which redirect URIs get a redirect at all, how errors
 * travel back (with state and iss), SSO and prompt/max_age, implicit and the response modes, and
 * the security headers of every HTML page along the way.
 */
const clock = new TestClock();
let server: TestServer;
let native: { client_id: string };
let spa: { client_id: string };
let thirdParty: { client_id: string };
const email = 'authorize-rules@example.test';
const loopback = 'http://127.0.0.1/callback';
const customScheme = 'com.example.app:/callback';
const spaOrigin = 'https://spa.example.test';
const spaCallback = `${spaOrigin}/callback`;

before(async () => {
  server = await startTestServer({ now: clock.now });
  native = await createNativeApp(server, [loopback, 'http://[::1]/callback', customScheme]);
  spa = await createAppClient(server, {
    name: 'Single Page App',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'implicit', 'refresh_token'],
    callbacks: [spaCallback],
    web_origins: [spaOrigin],
  });
  thirdParty = await createNativeApp(server, ['http://127.0.0.1/third'], { name: 'Third Party Tool', is_first_party: false });
  await makeDatabaseConnectionDomainWide(server);
  await createUser(server, email);
});

after(() => server?.close());

/** A code-flow authorization URL for the native app, PKCE included, overridable per test. */
function nativeAuthorize(params: Record<string, string> = {}): URL {
  return authorizeUrl(server.issuer, {
    client_id: native.client_id,
    response_type: 'code',
    redirect_uri: 'http://127.0.0.1:50123/callback',
    scope: 'openid profile',
    state: 'opaque-state-1',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    ...params,
  });
}

/** The answer must be the hosted error page: no Location, nothing sent to any redirect URI. */
async function assertErrorPage(response: Response, title: RegExp): Promise<string> {
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null);
  const body = await response.text();
  assert.match(body, title);
  assertStrictPage(response, body);
  return body;
}

/** An error returned to the client: a redirect to redirect_uri with error, state and iss. */
function assertErrorRedirect(response: Response, redirectUri: string, error: string, state = 'opaque-state-1'): URLSearchParams {
  assert.equal(response.status, 302);
  const location = response.headers.get('location')!;
  assert.ok(location.startsWith(redirectUri), location);
  const params = callbackParams(response);
  assert.equal(params.get('error'), error, location);
  assert.ok(params.get('error_description'));
  assert.equal(params.get('state'), state);
  assert.equal(params.get('iss'), server.issuer);
  assert.equal(params.get('code'), null);
  return params;
}

/** Signed in once; later /authorize calls of this browser ride the SSO session. */
async function signedInBrowser(): Promise<Browser> {
  const browser = new Browser(server.issuer);
  const response = await signInWithPassword(browser, nativeAuthorize(), email, TEST_PASSWORD);
  assert.ok(callbackParams(response).get('code'));
  return browser;
}

describe('redirect_uri and client_id', () => {
  test('an unregistered redirect_uri gets the "Callback URL mismatch" page, never a redirect', async () => {
    for (const redirectUri of ['https://attacker.example/callback', 'http://127.0.0.1/callback/', 'http://127.0.0.1/callback?next=x']) {
      const response = await fetch(nativeAuthorize({ redirect_uri: redirectUri }), { redirect: 'manual' });
      const body = await assertErrorPage(response, /Callback URL mismatch/);
      // The page may name the rejected URI for the admin, but only escaped.
      assert.doesNotMatch(body, /<a [^>]*href="https:\/\/attacker/);
    }
  });

  test('a missing redirect_uri and an unknown client_id are shown, not redirected', async () => {
    const noRedirect = nativeAuthorize();
    noRedirect.searchParams.delete('redirect_uri');
    await assertErrorPage(await fetch(noRedirect, { redirect: 'manual' }), /Something went wrong|redirect_uri/);
    const unknownClient = nativeAuthorize({ client_id: 'no-such-client' });
    const body = await assertErrorPage(await fetch(unknownClient, { redirect: 'manual' }), /Unknown application/);
    assert.doesNotMatch(body, /opaque-state-1/);
  });

  test('even errors that would be redirectable are shown when the redirect_uri is not registered', async () => {
    const response = await fetch(nativeAuthorize({ redirect_uri: 'https://attacker.example/cb', code_challenge_method: 'plain' }), {
      redirect: 'manual',
    });
    await assertErrorPage(response, /Callback URL mismatch/);
  });

  test('a loopback IP registered without a port matches any port (RFC 8252 §7.3)', async () => {
    for (const redirectUri of [
      'http://127.0.0.1:50123/callback',
      'http://127.0.0.1:8/callback',
      'http://127.0.0.1/callback',
      'http://[::1]:61000/callback',
    ]) {
      const response = await fetch(nativeAuthorize({ redirect_uri: redirectUri }), { redirect: 'manual' });
      assert.equal(response.status, 302, redirectUri);
      assert.match(response.headers.get('location')!, /^\/u\/login\?state=/, redirectUri);
    }
  });

  test('the loopback exception covers neither localhost, another path, https, nor another IP', async () => {
    for (const redirectUri of [
      'http://localhost:50123/callback',
      'http://localhost/callback',
      'http://127.0.0.1:50123/other',
      'http://127.0.0.1:50123/callback/extra',
      'https://127.0.0.1:50123/callback',
      'http://127.0.0.2:50123/callback',
      'http://127.0.0.1:50123@evil.example/callback',
    ]) {
      const response = await fetch(nativeAuthorize({ redirect_uri: redirectUri }), { redirect: 'manual' });
      await assertErrorPage(response, /Callback URL mismatch/);
    }
  });

  test('a private-use URI scheme callback (com.example.app:/callback) gets the code', async () => {
    const browser = new Browser(server.issuer);
    const start = await browser.get(nativeAuthorize({ redirect_uri: customScheme }));
    const login = await browser.get(start.headers.get('location')!);
    const csp = assertStrictPage(login, await login.clone().text());
    // The login form's final redirect goes to the app's scheme; Chromium checks it against form-action.
    assert.ok(cspDirective(csp, 'form-action').includes('com.example.app:'), csp);
    const response = await browser.postForm('/u/login', { ...formFields(await login.text()), username: email, password: TEST_PASSWORD });
    assert.equal(response.status, 302);
    const location = response.headers.get('location')!;
    assert.ok(location.startsWith(`${customScheme}?code=`), location);
    assert.equal(callbackParams(response).get('state'), 'opaque-state-1');
  });
});

describe('errors back to the client', () => {
  test('a public client without code_challenge gets invalid_request at its redirect_uri, with state', async () => {
    const url = nativeAuthorize();
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const response = await fetch(url, { redirect: 'manual' });
    const params = assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'invalid_request');
    assert.match(params.get('error_description')!, /code_challenge/);
  });

  test('code_challenge_method=plain, or none given with a challenge, is refused', async () => {
    const plain = nativeAuthorize({ code_challenge: pkcePair().verifier, code_challenge_method: 'plain' });
    const upperCase = nativeAuthorize({ code_challenge_method: 'PLAIN' });
    // RFC 7636 would read a missing method as plain.
    const noMethod = nativeAuthorize();
    noMethod.searchParams.delete('code_challenge_method');
    for (const url of [plain, upperCase, noMethod]) {
      const response = await fetch(url, { redirect: 'manual' });
      assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'invalid_request');
    }
  });

  test('an unknown response_type is unsupported_response_type, with state and iss', async () => {
    const response = await fetch(nativeAuthorize({ response_type: 'code token_x' }), { redirect: 'manual' });
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'unsupported_response_type');
  });

  test('a response type whose grant the client lacks is unauthorized_client', async () => {
    // The native app has no implicit grant; errors for a token response type travel in the fragment.
    const response = await fetch(nativeAuthorize({ response_type: 'token' }), { redirect: 'manual' });
    assert.ok(response.headers.get('location')!.includes('#'));
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'unauthorized_client');
  });

  test('an unknown audience is access_denied at the redirect_uri', async () => {
    const response = await fetch(nativeAuthorize({ audience: 'https://no-such-api.example.test/' }), { redirect: 'manual' });
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'access_denied');
  });

  test('a state with characters that need encoding comes back unchanged', async () => {
    const state = 'a b&c=d/é?#';
    const url = nativeAuthorize({ state, prompt: 'none' });
    const response = await fetch(url, { redirect: 'manual' });
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'login_required', state);
  });

  test('repeated parameters are refused on the error page (RFC 6749 §3.1)', async () => {
    const url = nativeAuthorize();
    url.searchParams.append('redirect_uri', 'https://attacker.example/cb');
    const response = await fetch(url, { redirect: 'manual' });
    await assertErrorPage(response, /Something went wrong/);
  });
});

describe('sessions and prompts', () => {
  test('state and iss are echoed on success', async () => {
    const response = await signInWithPassword(
      new Browser(server.issuer),
      nativeAuthorize({ state: 'success-state' }),
      email,
      TEST_PASSWORD,
    );
    const params = callbackParams(response);
    assert.ok(params.get('code'));
    assert.equal(params.get('state'), 'success-state');
    assert.equal(params.get('iss'), server.issuer);
    assert.ok(response.headers.get('location')!.startsWith('http://127.0.0.1:50123/callback?'));
  });

  test('prompt=none without a session answers login_required at the redirect_uri', async () => {
    const response = await fetch(nativeAuthorize({ prompt: 'none' }), { redirect: 'manual' });
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'login_required');
  });

  test('with the session cookie, a second /authorize returns a code without the login page', async () => {
    const browser = await signedInBrowser();
    for (const prompt of [undefined, 'none']) {
      const response = await browser.get(nativeAuthorize({ state: 'second', ...(prompt ? { prompt } : {}) }));
      assert.equal(response.status, 302);
      assert.doesNotMatch(response.headers.get('location')!, /^\/u\//);
      const params = callbackParams(response);
      assert.ok(params.get('code'));
      assert.equal(params.get('state'), 'second');
    }
  });

  test('prompt=login shows the login page even with a session', async () => {
    const browser = await signedInBrowser();
    const response = await browser.get(nativeAuthorize({ prompt: 'login' }));
    assert.equal(response.status, 302);
    assert.match(response.headers.get('location')!, /^\/u\/login\?state=/);
  });

  test('prompt=none with a session still cannot skip consent: consent_required', async () => {
    const browser = await signedInBrowser();
    const response = await browser.get(
      authorizeUrl(server.issuer, {
        client_id: thirdParty.client_id,
        response_type: 'code',
        redirect_uri: 'http://127.0.0.1:40000/third',
        scope: 'openid profile',
        state: 'opaque-state-1',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        prompt: 'none',
      }),
    );
    assertErrorRedirect(response, 'http://127.0.0.1:40000/third', 'consent_required');
  });

  test('prompt=none cannot be combined with login', async () => {
    const response = await fetch(nativeAuthorize({ prompt: 'none login' }), { redirect: 'manual' });
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'invalid_request');
  });

  test('max_age: an older sign-in forces the login page, and auth_time reports the sign-in', async () => {
    const browser = new Browser(server.issuer);
    const pkce = pkcePair();
    const signedInAt = clock.value;
    const first = callbackParams(
      await signInWithPassword(browser, nativeAuthorize({ code_challenge: pkce.challenge, max_age: '3600' }), email, TEST_PASSWORD),
    );
    const tokens = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: native.client_id,
      code: first.get('code')!,
      code_verifier: pkce.verifier,
      redirect_uri: 'http://127.0.0.1:50123/callback',
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(claimsOf(tokens.body.id_token).auth_time, Math.floor(signedInAt / 1000));

    clock.advance(120_000);
    // Within max_age: the session answers, and auth_time is still the original sign-in.
    const pkce2 = pkcePair();
    const again = await browser.get(nativeAuthorize({ code_challenge: pkce2.challenge, max_age: '3600' }));
    const code = callbackParams(again).get('code')!;
    const later = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: native.client_id,
      code,
      code_verifier: pkce2.verifier,
      redirect_uri: 'http://127.0.0.1:50123/callback',
    });
    assert.equal(later.status, 200, JSON.stringify(later.body));
    assert.equal(claimsOf(later.body.id_token).auth_time, Math.floor(signedInAt / 1000));
    assert.ok(claimsOf(later.body.id_token).iat > claimsOf(later.body.id_token).auth_time);

    // Older than max_age (60 s, or 0): sign in again.
    for (const maxAge of ['60', '0']) {
      const response = await browser.get(nativeAuthorize({ max_age: maxAge }));
      assert.match(response.headers.get('location')!, /^\/u\/login\?state=/, `max_age=${maxAge}`);
    }
    // ...and prompt=none with a too old session cannot ask: login_required.
    const silent = await browser.get(nativeAuthorize({ max_age: '0', prompt: 'none' }));
    assertErrorRedirect(silent, 'http://127.0.0.1:50123/callback', 'login_required');

    // A fresh sign-in moves auth_time forward.
    const pkce3 = pkcePair();
    const reauth = await signInWithPassword(
      browser,
      nativeAuthorize({ code_challenge: pkce3.challenge, max_age: '0' }),
      email,
      TEST_PASSWORD,
    );
    const fresh = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: native.client_id,
      code: callbackParams(reauth).get('code')!,
      code_verifier: pkce3.verifier,
      redirect_uri: 'http://127.0.0.1:50123/callback',
    });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.equal(claimsOf(fresh.body.id_token).auth_time, Math.floor(clock.value / 1000));
  });

  test('a malformed max_age is invalid_request', async () => {
    const response = await fetch(nativeAuthorize({ max_age: '-1' }), { redirect: 'manual' });
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'invalid_request');
  });
});

describe('implicit response types and response modes', () => {
  function spaAuthorize(params: Record<string, string>): URL {
    return authorizeUrl(server.issuer, {
      client_id: spa.client_id,
      redirect_uri: spaCallback,
      scope: 'openid profile',
      state: 'spa-state',
      ...params,
    });
  }

  test('response_type=token returns the access token in the fragment', async () => {
    const response = await signInWithPassword(new Browser(server.issuer), spaAuthorize({ response_type: 'token' }), email, TEST_PASSWORD);
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.search, '');
    const params = callbackParams(response);
    assert.ok(params.get('access_token'));
    assert.equal(params.get('token_type'), 'Bearer');
    assert.ok(Number(params.get('expires_in')) > 0);
    assert.equal(params.get('id_token'), null);
    assert.equal(params.get('state'), 'spa-state');
    assert.equal(params.get('iss'), server.issuer);
  });

  test("an implicit access token for an API lives the API's token_lifetime_for_web, not token_lifetime", async () => {
    const identifier = 'https://web-lifetime.example.test/';
    const created = await server.management('POST', '/resource-servers', {
      identifier,
      name: 'Web lifetime',
      token_lifetime: 86400,
      token_lifetime_for_web: 3600,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const response = await signInWithPassword(
      new Browser(server.issuer),
      spaAuthorize({ response_type: 'token', audience: identifier }),
      email,
      TEST_PASSWORD,
    );
    const params = callbackParams(response);
    assert.equal(params.get('expires_in'), '3600');
    const claims = decodeJwt(params.get('access_token')!);
    assert.equal(claims.exp! - claims.iat!, 3600);

    // Never longer than token_lifetime itself, whatever token_lifetime_for_web says (default 7200).
    const shortLived = 'https://short-lived.example.test/';
    assert.equal(
      (await server.management('POST', '/resource-servers', { identifier: shortLived, name: 'Short', token_lifetime: 300 })).status,
      201,
    );
    const short = callbackParams(
      await signInWithPassword(
        new Browser(server.issuer),
        spaAuthorize({ response_type: 'token', audience: shortLived }),
        email,
        TEST_PASSWORD,
      ),
    );
    assert.equal(short.get('expires_in'), '300');
  });

  test('response_type="id_token token" needs a nonce, and echoes it in the id_token', async () => {
    const refused = await fetch(spaAuthorize({ response_type: 'id_token token' }), { redirect: 'manual' });
    assert.ok(refused.headers.get('location')!.startsWith(`${spaCallback}#`));
    const error = callbackParams(refused);
    assert.equal(error.get('error'), 'invalid_request');
    assert.match(error.get('error_description')!, /nonce/);
    assert.equal(error.get('state'), 'spa-state');

    const response = await signInWithPassword(
      new Browser(server.issuer),
      spaAuthorize({ response_type: 'token id_token', nonce: 'n-0S6_WzA2Mj' }),
      email,
      TEST_PASSWORD,
    );
    assert.ok(response.headers.get('location')!.startsWith(`${spaCallback}#`));
    const params = callbackParams(response);
    assert.ok(params.get('access_token'));
    const idToken = claimsOf(params.get('id_token')!);
    assert.equal(idToken.nonce, 'n-0S6_WzA2Mj');
    assert.equal(idToken.aud, spa.client_id);
    assert.ok(idToken.at_hash, 'an id_token issued with an access token carries at_hash');
  });

  test('hybrid response types: a code with the front-channel tokens in the fragment, validated by oauth4webapi', async () => {
    const issuer = new URL(server.issuer);
    const as = await oauth
      .discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true })
      .then((r) => oauth.processDiscoveryResponse(issuer, r));
    assert.ok(as.response_types_supported?.includes('code id_token token'));
    const oauthClient: oauth.Client = { client_id: spa.client_id, token_endpoint_auth_method: 'none' };
    for (const responseType of ['code id_token', 'code id_token token', 'code token']) {
      const { verifier, challenge } = pkcePair();
      const nonce = oauth.generateRandomNonce();
      const response = await signInWithPassword(
        new Browser(server.issuer),
        spaAuthorize({ response_type: responseType, nonce, code_challenge: challenge, code_challenge_method: 'S256' }),
        email,
        TEST_PASSWORD,
      );
      const location = new URL(response.headers.get('location')!);
      assert.equal(location.search, '', `${responseType}: nothing in the query`);
      const fragment = new URLSearchParams(location.hash.slice(1));
      assert.equal(fragment.has('access_token'), responseType.split(' ').includes('token'), responseType);
      let params: URLSearchParams;
      if (responseType.includes('id_token')) {
        // Checks the id_token's nonce, c_hash against the code, iss, aud and state.
        params = await oauth.validateCodeIdTokenResponse(as, oauthClient, location, nonce, 'spa-state', undefined, {
          [oauth.allowInsecureRequests]: true,
        });
        if (fragment.has('access_token')) {
          const idToken = claimsOf(fragment.get('id_token')!);
          const digest = createHash('sha256').update(fragment.get('access_token')!).digest();
          assert.equal(idToken.at_hash, digest.subarray(0, 16).toString('base64url'));
        }
      } else {
        assert.equal(fragment.has('id_token'), false);
        params = oauth.validateAuthResponse(as, oauthClient, fragment, 'spa-state');
      }
      const redeemed = await oauth.authorizationCodeGrantRequest(as, oauthClient, oauth.None(), params, spaCallback, verifier, {
        [oauth.allowInsecureRequests]: true,
      });
      const tokens = await oauth.processAuthorizationCodeResponse(as, oauthClient, redeemed, { expectedNonce: nonce });
      assert.ok(tokens.id_token, `${responseType}: the code is redeemable once`);
    }
  });

  test('a hybrid request with an id_token needs a nonce; one without the implicit grant is unauthorized_client', async () => {
    const { challenge } = pkcePair();
    const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };
    const noNonce = callbackParams(await fetch(spaAuthorize({ response_type: 'code id_token', ...pkce }), { redirect: 'manual' }));
    assert.equal(noNonce.get('error'), 'invalid_request');
    const native = callbackParams(await fetch(nativeAuthorize({ response_type: 'code token', nonce: 'n' }), { redirect: 'manual' }));
    assert.equal(native.get('error'), 'unauthorized_client');
    const query = await fetch(spaAuthorize({ response_type: 'code id_token', response_mode: 'query', nonce: 'n', ...pkce }), {
      redirect: 'manual',
    });
    assert.equal(new URL(query.headers.get('location')!).search, '', 'tokens never go in the query string');
  });

  test('implicit results never go in the query string', async () => {
    const response = await fetch(spaAuthorize({ response_type: 'token', response_mode: 'query' }), { redirect: 'manual' });
    assert.equal(response.status, 302);
    const location = response.headers.get('location')!;
    assert.ok(location.startsWith(`${spaCallback}#`), location);
    assert.equal(callbackParams(response).get('error'), 'invalid_request');
  });

  test('form_post answers a page whose form posts the result to the redirect_uri', async () => {
    const pkce = pkcePair();
    const response = await signInWithPassword(
      new Browser(server.issuer),
      spaAuthorize({ response_type: 'code', response_mode: 'form_post', code_challenge: pkce.challenge, code_challenge_method: 'S256' }),
      email,
      TEST_PASSWORD,
    );
    assert.equal(response.status, 200);
    const body = await response.text();
    const csp = assertStrictPage(response, body);
    assert.match(body, new RegExp(`<form method="post" action="${spaCallback.replace(/[/.]/g, '\\$&')}">`));
    const fields = formFields(body);
    assert.ok(fields.code);
    assert.equal(fields.state, 'spa-state');
    assert.equal(fields.iss, server.issuer);
    assert.ok(cspDirective(csp, 'form-action').includes(spaOrigin), csp);
    assert.equal(response.headers.get('cache-control'), 'no-store');

    // Errors take the same way.
    const failed = await fetch(
      spaAuthorize({
        response_type: 'code',
        response_mode: 'form_post',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
        prompt: 'none',
      }),
      { redirect: 'manual' },
    );
    assert.equal(failed.status, 200);
    const errorBody = await failed.text();
    assertStrictPage(failed, errorBody);
    assert.equal(formFields(errorBody).error, 'login_required');
    assert.equal(formFields(errorBody).state, 'spa-state');
  });

  test('web_message answers a page for the redirect origin only, framable by that origin only', async () => {
    const pkce = pkcePair();
    const params = { response_type: 'code', response_mode: 'web_message', code_challenge: pkce.challenge, code_challenge_method: 'S256' };
    const silent = await fetch(spaAuthorize({ ...params, prompt: 'none' }), { redirect: 'manual' });
    assert.equal(silent.status, 200);
    const silentBody = await silent.text();
    assertStrictPage(silent, silentBody, { frameAncestor: spaOrigin });
    assert.match(silentBody, new RegExp(`data-origin="${spaOrigin.replace(/[/.]/g, '\\$&')}"`));
    const silentResponse = JSON.parse(decodeHtml(/data-response="([^"]*)"/.exec(silentBody)![1]!));
    assert.equal(silentResponse.error, 'login_required');
    assert.equal(silentResponse.state, 'spa-state');

    const response = await signInWithPassword(new Browser(server.issuer), spaAuthorize(params), email, TEST_PASSWORD);
    assert.equal(response.status, 200);
    const body = await response.text();
    assertStrictPage(response, body, { frameAncestor: spaOrigin });
    assert.match(body, /data-origin="https:\/\/spa\.example\.test"/);
    const result = JSON.parse(decodeHtml(/data-response="([^"]*)"/.exec(body)![1]!));
    assert.ok(result.code);
    assert.equal(result.state, 'spa-state');
    assert.match(body, /<script src="\/u\/assets\/[^"]+" defer><\/script>/);
  });

  test('an unsupported response_mode is refused', async () => {
    const response = await fetch(nativeAuthorize({ response_mode: 'jwt' }), { redirect: 'manual' });
    assertErrorRedirect(response, 'http://127.0.0.1:50123/callback', 'invalid_request');
  });
});

describe('hosted pages', () => {
  test('login, sign-up, consent and error pages all carry the strict headers', async () => {
    const browser = new Browser(server.issuer);
    const start = await browser.get(nativeAuthorize());
    const login = await browser.get(start.headers.get('location')!);
    assert.equal(login.status, 200);
    const loginBody = await login.text();
    assertStrictPage(login, loginBody);
    assert.equal(login.headers.get('cache-control'), 'no-store');

    const signupStart = await browser.get(nativeAuthorize({ screen_hint: 'signup' }));
    assert.match(signupStart.headers.get('location')!, /^\/u\/signup\?state=/);
    const signup = await browser.get(signupStart.headers.get('location')!);
    assert.equal(signup.status, 200);
    assertStrictPage(signup, await signup.text());

    const wrong = await browser.postForm('/u/login', { ...formFields(loginBody), username: email, password: 'not the password' });
    assert.equal(wrong.status, 400);
    const wrongBody = await wrong.text();
    assertStrictPage(wrong, wrongBody);
    assert.match(wrongBody, /Wrong email or password/);

    // A third-party client: the user is asked before it gets anything.
    const consentStart = await signInWithPassword(
      browser,
      authorizeUrl(server.issuer, {
        client_id: thirdParty.client_id,
        response_type: 'code',
        redirect_uri: 'http://127.0.0.1:40000/third',
        scope: 'openid profile',
        state: 'third-state',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
      email,
      TEST_PASSWORD,
    );
    assert.match(consentStart.headers.get('location')!, /^\/u\/consent\?state=/);
    const consent = await browser.get(consentStart.headers.get('location')!);
    assert.equal(consent.status, 200);
    const consentBody = await consent.text();
    const csp = assertStrictPage(consent, consentBody);
    assert.ok(cspDirective(csp, 'form-action').includes('http://127.0.0.1:40000'), csp);
    assert.match(consentBody, /Third Party Tool/);

    const mismatch = await fetch(nativeAuthorize({ redirect_uri: 'https://x.example/' }), { redirect: 'manual' });
    assertStrictPage(mismatch, await mismatch.text());
  });

  test('user-controlled values are escaped in the pages', async () => {
    const browser = new Browser(server.issuer);
    const start = await browser.get(nativeAuthorize({ login_hint: '"><script>alert(1)</script>' }));
    const login = await browser.get(start.headers.get('location')!);
    const body = await login.text();
    assert.doesNotMatch(body, /<script>alert/);
    assert.match(body, /&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    const mismatch = await fetch(nativeAuthorize({ redirect_uri: 'https://x.example/"><script>alert(1)</script>' }), {
      redirect: 'manual',
    });
    assert.doesNotMatch(await mismatch.text(), /<script>alert/);
  });
});
