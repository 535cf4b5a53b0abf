import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express, { type ErrorRequestHandler } from 'express';
import { expressjwt, type GetVerificationKey } from 'express-jwt';
import { auth, claimCheck } from 'express-oauth2-jwt-bearer';
import jwksRsa from 'jwks-rsa';
import * as client from 'openid-client';
import type { TriggerId } from '../src/domain/actions.js';
import { authorizeUrl, Browser, callbackParams, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { authorizationCode, claimsOf, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import {
  createAppClient,
  createNativeApp,
  createPasswordGrantApp,
  createUser,
  enableOnDatabaseConnection,
  TEST_PASSWORD,
} from './helpers/tenant.js';

/**
 * Auth0-style Actions, created, deployed and bound through the Management API, run by the sign-in,
 * token and signup paths: claims read by real API guards, denials seen by openid-client, hostile code.
 */
const API = 'https://orders.example.test/';
const redirectUri = 'http://127.0.0.1:50400/callback';
const email = 'actions-user@example.test';
const blockedEmail = 'blocked-by-action@example.test';

let server: TestServer;
let native: { client_id: string };
let ordersApi: Server;
let ordersUrl: string;
let actionCount = 0;

/** Creates and deploys the code as a new Action and makes it the trigger's whole flow (no code: an empty flow). */
async function bind(trigger: TriggerId, code: string | undefined, secrets: { name: string; value: string }[] = []) {
  const bindings: unknown[] = [];
  if (code !== undefined) {
    const name = `action-${++actionCount}`;
    const created = await server.management('POST', '/actions/actions', {
      name,
      supported_triggers: [{ id: trigger, version: trigger === 'post-login' ? 'v3' : 'v2' }],
      code,
      secrets,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const deployed = await server.management('POST', `/actions/actions/${created.body.id}/deploy`);
    assert.ok(deployed.status === 200 || deployed.status === 202, JSON.stringify(deployed.body));
    bindings.push({ ref: { type: 'action_name', value: name }, display_name: name });
  }
  const bound = await server.management('PATCH', `/actions/triggers/${trigger}/bindings`, { bindings });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
}

before(async () => {
  // Short limits, so the hostile Actions end quickly (LATCHKEY_ACTIONS_*).
  server = await startTestServer({ config: { actionsCpuTimeMs: 300, actionsWallTimeMs: 2_000 } });
  const api = await server.management('POST', '/resource-servers', {
    identifier: API,
    name: 'Orders',
    scopes: [{ value: 'read:orders', description: 'Read' }],
    allow_offline_access: true,
    skip_consent_for_verifiable_first_party_clients: true,
  });
  assert.equal(api.status, 201, JSON.stringify(api.body));
  native = await createNativeApp(server, ['http://127.0.0.1/callback']);
  const user = await createUser(server, email);
  await createUser(server, blockedEmail);
  const role = await server.management('POST', '/roles', { name: 'order-admin', description: 'Orders' });
  assert.ok(role.status === 200 || role.status === 201, JSON.stringify(role.body));
  assert.equal(
    (await server.management('POST', `/users/${encodeURIComponent(user.user_id)}/roles`, { roles: [role.body.id] })).status,
    204,
  );

  const app = express();
  const guard = auth({ issuerBaseURL: server.issuer, audience: API });
  app.get(
    '/orders',
    guard,
    claimCheck(
      (claims) => Array.isArray(claims['https://example.com/roles']) && claims['https://example.com/roles'].includes('order-admin'),
    ),
    (_req, res) => res.json({ ok: true }),
  );
  const onError: ErrorRequestHandler = (err: { status?: number }, _req, res, _next) => res.status(err.status ?? 500).end();
  app.use(onError);
  ordersApi = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  ordersUrl = `http://127.0.0.1:${(ordersApi.address() as AddressInfo).port}/orders`;
});

after(async () => {
  ordersApi?.close();
  await server?.close();
});

async function signIn(as = email, scope = 'openid offline_access read:orders') {
  const { code, verifier } = await authorizationCode(
    server,
    new Browser(server.issuer),
    { client_id: native.client_id, redirect_uri: redirectUri, audience: API, scope },
    { email: as, password: TEST_PASSWORD },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: native.client_id,
    code,
    code_verifier: verifier,
    redirect_uri: redirectUri,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return tokens.body;
}

/** The callback parameters of a sign-in that does not end with a code. */
async function signInResult(as: string): Promise<URLSearchParams> {
  const { challenge } = pkcePair();
  const url = authorizeUrl(server.issuer, {
    response_type: 'code',
    client_id: native.client_id,
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'st-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return callbackParams(await signInWithPassword(new Browser(server.issuer), url, as, TEST_PASSWORD));
}

const callOrders = async (token: string) => (await fetch(ordersUrl, { headers: { authorization: `Bearer ${token}` } })).status;

test('a roles-claim post-login Action: the API guard (claimCheck) accepts the token, and refresh runs it again', async () => {
  await bind(
    'post-login',
    `exports.onExecutePostLogin = async (event, api) => {
      const namespace = 'https://example.com';
      if (event.authorization) {
        api.accessToken.setCustomClaim(namespace + '/roles', event.authorization.roles);
        api.idToken.setCustomClaim(namespace + '/roles', event.authorization.roles);
      }
      api.idToken.setCustomClaim('protocol', event.transaction.protocol);
      const query = event.request.query || {};
      api.idToken.setCustomClaim('request', { ip: event.request.ip, audience: query.audience, logins: event.stats.logins_count });
      api.accessToken.setCustomClaim('sub', 'someone-else');
      api.accessToken.setCustomClaim('https://auth0.com/claim', 1);
      api.idToken.setCustomClaim('email', 'spoofed@example.test');
      api.user.setAppMetadata('plan', event.secrets.PLAN);
    };`,
    [{ name: 'PLAN', value: 'gold' }],
  );
  const tokens = await signIn();
  const access = claimsOf(tokens.access_token);
  assert.deepEqual(access['https://example.com/roles'], ['order-admin']);
  assert.notEqual(access.sub, 'someone-else', 'a registered claim is never replaced');
  assert.equal(access['https://auth0.com/claim'], undefined, "Auth0's own namespace is kept");
  assert.equal(claimsOf(tokens.id_token).email, undefined, "OpenID's standard claims are the profile's, never an Action's");
  assert.equal(claimsOf(tokens.id_token).protocol, 'oidc-basic-profile');
  const seen = claimsOf(tokens.id_token).request;
  assert.equal(seen.ip, '127.0.0.1');
  assert.equal(seen.audience, API);
  assert.ok(seen.logins >= 1, JSON.stringify(seen));
  assert.equal(await callOrders(tokens.access_token), 200);

  const users = await server.management('GET', `/users-by-email?email=${encodeURIComponent(email)}`);
  assert.equal(users.body[0].app_metadata.plan, 'gold', 'api.user.setAppMetadata is saved');

  const refreshed = await tokenRequest(server, {
    grant_type: 'refresh_token',
    client_id: native.client_id,
    refresh_token: tokens.refresh_token,
  });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  assert.equal(claimsOf(refreshed.body.id_token).protocol, 'oauth2-refresh-token', JSON.stringify(claimsOf(refreshed.body.id_token)));
  assert.deepEqual(claimsOf(refreshed.body.access_token)['https://example.com/roles'], ['order-admin']);
  await bind('post-login', undefined);
  // claimCheck reports a claim that does not hold as invalid_token: 401.
  assert.equal(await callOrders((await signIn()).access_token), 401, 'without the Action the guard refuses');
});

test('a deny Action: openid-client sees access_denied with the reason; a refresh of a denied user is refused too', async () => {
  const before = await signIn(blockedEmail);
  await bind(
    'post-login',
    `exports.onExecutePostLogin = async (event, api) => {
      if (event.user.email === ${JSON.stringify(blockedEmail)}) api.access.deny('Your account is on hold');
    };`,
  );
  const config = await client.discovery(new URL(server.issuer), native.client_id, { token_endpoint_auth_method: 'none' }, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const response = await signInWithPassword(new Browser(server.issuer), url, blockedEmail, TEST_PASSWORD);
  const callback = new URL(String(response.headers.get('location')));
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
    (error: Error & { error?: string; error_description?: string }) => {
      assert.ok(error instanceof client.AuthorizationResponseError, String(error));
      assert.equal(error.error, 'access_denied');
      assert.equal(error.error_description, 'Your account is on hold');
      return true;
    },
  );
  const refused = await tokenRequest(server, {
    grant_type: 'refresh_token',
    client_id: native.client_id,
    refresh_token: before.refresh_token,
  });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.deepEqual(refused.body, { error: 'access_denied', error_description: 'Your account is on hold' });
  assert.ok((await signIn()).access_token, 'other users still sign in');
  await bind('post-login', undefined);
});

test('the password grant runs post-login too (protocol oauth2-password), and its denial is the token error', async () => {
  const web = await createAppClient(server, {
    name: 'Password grant app',
    app_type: 'regular_web',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['password'],
    callbacks: ['https://web.example.test/callback'],
  });
  const settings = await server.management('PATCH', '/tenants/settings', { default_directory: 'Username-Password-Authentication' });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  await bind(
    'post-login',
    `exports.onExecutePostLogin = async (event, api) => {
      if (event.user.email === ${JSON.stringify(blockedEmail)}) return api.access.deny('No password logins for you');
      api.idToken.setCustomClaim('protocol', event.transaction.protocol);
    };`,
  );
  const grant = (username: string) =>
    tokenRequest(server, {
      grant_type: 'password',
      client_id: web.client_id,
      client_secret: String(web.client_secret),
      username,
      password: TEST_PASSWORD,
      scope: 'openid',
    });
  const granted = await grant(email);
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  assert.equal(claimsOf(granted.body.id_token).protocol, 'oauth2-password');
  const refused = await grant(blockedEmail);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.deepEqual(refused.body, { error: 'access_denied', error_description: 'No password logins for you' });
  await bind('post-login', undefined);
});

test('parallel sign-ins of one user, each Action setting its own app_metadata key: every key and every login land', async () => {
  const web = await createPasswordGrantApp(server);
  const address = 'parallel-metadata@example.test';
  const created = await createUser(server, address);
  await bind(
    'post-login',
    `exports.onExecutePostLogin = async (event, api) => {
      api.user.setAppMetadata('signin-' + Math.random().toString(36).slice(2), event.stats.logins_count);
    };`,
  );
  const signIn = () =>
    tokenRequest(server, {
      grant_type: 'password',
      client_id: web.client_id,
      client_secret: String(web.client_secret),
      username: address,
      password: TEST_PASSWORD,
      scope: 'openid',
    });
  // One first, so that the parallel ones find the Action compiled in a warm sandbox (a cold start on a
  // busy machine could take the flow's whole short clock here).
  assert.equal((await signIn()).status, 200);
  // Each sign-in wrote back the user as it had read it: PostgreSQL kept 2 of 8 keys and 3 of 8 logins.
  const results = await Promise.all(Array.from({ length: 6 }, signIn));
  assert.deepEqual(
    results.map((r) => r.status),
    Array(6).fill(200),
    JSON.stringify(results.find((r) => r.status !== 200)?.body),
  );
  const stored = await server.management('GET', `/users/${encodeURIComponent(created.user_id)}`);
  assert.equal(Object.keys(stored.body.app_metadata).filter((k) => k.startsWith('signin-')).length, 7, JSON.stringify(stored.body));
  assert.equal(stored.body.logins_count, 7);
  await bind('post-login', undefined);
});

test('a credentials-exchange Action adds a claim to client_credentials tokens, and can deny', async () => {
  const m2m = await createAppClient(server, { name: 'm2m', app_type: 'non_interactive', grant_types: ['client_credentials'] });
  const grant = await server.management('POST', '/client-grants', { client_id: m2m.client_id, audience: API, scope: ['read:orders'] });
  assert.equal(grant.status, 201, JSON.stringify(grant.body));
  await bind(
    'credentials-exchange',
    `exports.onExecuteCredentialsExchange = async (event, api) => {
      if (event.client.name === 'denied') api.access.deny('invalid_request', 'not this one');
      api.accessToken.setCustomClaim('https://example.com/tenant', 'acme');
    };`,
  );
  const issued = await tokenRequest(server, {
    grant_type: 'client_credentials',
    client_id: m2m.client_id,
    client_secret: String(m2m.client_secret),
    audience: API,
  });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  assert.equal(claimsOf(issued.body.access_token).gty, 'client-credentials');

  // An API guarded by express-jwt + jwks-rsa reads the claim.
  const app = express();
  app.get(
    '/tenant',
    expressjwt({
      secret: jwksRsa.expressJwtSecret({ jwksUri: `${server.issuer}.well-known/jwks.json`, cache: true }) as GetVerificationKey,
      audience: API,
      issuer: server.issuer,
      algorithms: ['RS256'],
    }),
    (req, res) => res.json({ tenant: (req as express.Request & { auth?: Record<string, unknown> }).auth?.['https://example.com/tenant'] }),
  );
  const listening = await new Promise<Server>((resolve) => {
    const started = app.listen(0, '127.0.0.1', () => resolve(started));
  });
  try {
    const read = await fetch(`http://127.0.0.1:${(listening.address() as AddressInfo).port}/tenant`, {
      headers: { authorization: `Bearer ${issued.body.access_token}` },
    });
    assert.equal(read.status, 200);
    assert.deepEqual(await read.json(), { tenant: 'acme' });
  } finally {
    listening.close();
  }

  const denied = await createAppClient(server, { name: 'denied', app_type: 'non_interactive', grant_types: ['client_credentials'] });
  await server.management('POST', '/client-grants', { client_id: denied.client_id, audience: API, scope: ['read:orders'] });
  const refused = await tokenRequest(server, {
    grant_type: 'client_credentials',
    client_id: denied.client_id,
    client_secret: String(denied.client_secret),
    audience: API,
  });
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.deepEqual(refused.body, { error: 'invalid_request', error_description: 'not this one' });
  await bind('credentials-exchange', undefined);
});

test('a pre-user-registration deny at /dbconnections/signup answers 400 with the user message', async () => {
  await enableOnDatabaseConnection(server, native.client_id);
  await bind(
    'pre-user-registration',
    `exports.onExecutePreUserRegistration = async (event, api) => {
      if (event.user.email.endsWith('@blocked.test')) api.access.deny('blocked domain', 'Sign-ups from this domain are closed');
      api.user.setUserMetadata('source', 'action');
    };`,
  );
  const signup = (address: string) =>
    fetch(new URL('/dbconnections/signup', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: native.client_id,
        email: address,
        password: TEST_PASSWORD,
        connection: 'Username-Password-Authentication',
      }),
    });
  const refused = await signup('someone@blocked.test');
  const refusedBody = (await refused.json()) as Record<string, unknown>;
  assert.equal(refused.status, 400, JSON.stringify(refusedBody));
  assert.equal(refusedBody.description, 'Sign-ups from this domain are closed', JSON.stringify(refusedBody));
  assert.equal(refusedBody.code, 'extensibility_error');
  const accepted = await signup('someone@open.test');
  assert.equal(accepted.status, 200, await accepted.clone().text());
  const users = await server.management('GET', `/users-by-email?email=${encodeURIComponent('someone@open.test')}`);
  assert.equal(users.body[0].user_metadata.source, 'action');
  await bind('pre-user-registration', undefined);
});

test('post-user-registration runs after the signup, and a failing one never fails it', async () => {
  const seen: string[] = [];
  const hook = createServer((req, res) => {
    seen.push(String(req.url));
    res.end('{}');
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  try {
    await enableOnDatabaseConnection(server, native.client_id);
    await bind(
      'post-user-registration',
      `exports.onExecutePostUserRegistration = async (event, api) => {
        await fetch(event.secrets.HOOK + '/registered?email=' + encodeURIComponent(event.user.email));
        throw new Error('the notification failed after all');
      };`,
      [{ name: 'HOOK', value: hookUrl }],
    );
    const response = await fetch(new URL('/dbconnections/signup', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: native.client_id,
        email: 'registered@example.test',
        password: TEST_PASSWORD,
        connection: 'Username-Password-Authentication',
      }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(seen, ['/registered?email=registered%40example.test']);
  } finally {
    await bind('post-user-registration', undefined);
    hook.close();
  }
});

test('hostile Actions fail their own sign-in with access_denied while the server keeps answering', async () => {
  const hostile = {
    'endless loop': 'exports.onExecutePostLogin = async () => { for (;;) {} };',
    'memory bomb': "exports.onExecutePostLogin = async () => { const a = []; for (;;) a.push('x'.repeat(1e5) + a.length); };",
    'endless promise': 'exports.onExecutePostLogin = () => new Promise(() => {});',
    'huge claim': "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('big', 'x'.repeat(200000)); };",
    throws: "exports.onExecutePostLogin = async () => { throw new Error('boom'); };",
  };
  for (const [label, code] of Object.entries(hostile)) {
    await bind('post-login', code);
    const during = fetch(new URL('/.well-known/openid-configuration', server.issuer));
    const result = await signInResult(email);
    assert.equal(result.get('error'), 'access_denied', `${label}: ${result.toString()}`);
    assert.match(result.get('error_description') ?? '', /Action/, label);
    assert.equal((await during).status, 200, `${label}: the server kept answering`);
  }
  await bind('post-login', undefined);
  assert.ok((await signIn()).access_token, 'sign-in works again once the flow is empty');
});
