import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express, { type ErrorRequestHandler } from 'express';
import { expressjwt, type GetVerificationKey } from 'express-jwt';
import jwksRsa from 'jwks-rsa';
import { Browser, callbackParams, formFields, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { claimsOf } from './helpers/protocol.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createUser, enableOnDatabaseConnection, makeDatabaseConnectionDomainWide, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * Auth0's own tutorials, replayed request by request as their code sends them, against a fresh
 * tenant (latchkey's strict defaults: every step that fails names the tenant setting that relaxes
 * it) and then with flags.auth0_compatible_defaults on (every step passes):
 * - the Electron tutorial (an Electron app and an Express API): /authorize with no state, nonce or
 *   PKCE, a JSON code exchange without code_verifier, and at every restart a refresh with the
 *   refresh token it stored first (it never stores the ones that come back);
 * - the Tauri article, which takes the Electron tutorial's requests with a custom-scheme callback;
 * - the PKCE tutorial for native apps, form-encoded, whose refresh step also reuses one refresh token;
 * - Dynamic Application Registration: register with a name and redirect URIs, then implicit
 *   (`response_type=id_token token`) for an API.
 */
const SETTING = /tenant setting flags\.auth0_compatible_defaults/;
const EMAIL = 'tutorial-reader@example.test';
const ELECTRON_API = 'https://electron-api.example.test/';
const APPOINTMENTS_API = 'appointments:api';
const ELECTRON_CALLBACK = 'http://localhost/callback';
const TAURI_CALLBACK = 'myapp:auth';
const PKCE_CALLBACK = 'com.example.tutorial://tutorial.example.com/callback';
const DCR_CALLBACKS = ['https://application.example.com/callback', 'https://application.example.com/callback2'];

let server: TestServer;
let expressApi: { server: Server; url: string };

before(async () => {
  server = await startTestServer({ config: { registrationRateLimit: 1000 } });
  await createApi(server, ELECTRON_API);
  const appointments = await server.management('POST', '/resource-servers', {
    name: 'Appointments',
    identifier: APPOINTMENTS_API,
    scopes: [{ value: 'appointments' }, { value: 'contacts' }],
  });
  assert.equal(appointments.status, 201, JSON.stringify(appointments.body));
  await createUser(server, EMAIL);
  // Registered apps sign in through domain connections only (Auth0's "promote connections" step).
  await makeDatabaseConnectionDomainWide(server);
  expressApi = await startTutorialApi(server.issuer, ELECTRON_API);
});

after(async () => {
  await new Promise((resolve) => expressApi?.server.close(resolve));
  await server?.close();
});

/** The Electron tutorial's backend: express-jwt with jwks-rsa, issuer, audience and RS256. */
async function startTutorialApi(issuer: string, audience: string): Promise<{ server: Server; url: string }> {
  const app = express();
  app.get('/public', (_req, res) => res.send('anyone'));
  app.use(
    expressjwt({
      secret: jwksRsa.expressJwtSecret({
        cache: true,
        rateLimit: true,
        jwksRequestsPerMinute: 5,
        jwksUri: `${issuer}.well-known/jwks.json`,
      }) as GetVerificationKey,
      audience,
      issuer,
      algorithms: ['RS256'],
    }),
  );
  app.get('/private', (_req, res) => res.send('signed-in only'));
  const onError: ErrorRequestHandler = (err: { status?: number }, _req, res, _next) => void res.status(err.status ?? 500).send('refused');
  app.use(onError);
  return new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () =>
      resolve({ server: listening, url: `http://127.0.0.1:${(listening.address() as AddressInfo).port}` }),
    );
  });
}

async function callPrivateEndpoint(accessToken: string): Promise<number> {
  return (await fetch(`${expressApi.url}/private`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
}

type TokenAnswer = { status: number; body: Record<string, any> };

/** POST /oauth/token as the tutorials' code sends it: JSON (Electron, Tauri) or a form (Auth0's docs). */
async function tokenEndpoint(body: Record<string, string>, encoding: 'json' | 'form'): Promise<TokenAnswer> {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: encoding === 'json' ? JSON.stringify(body) : new URLSearchParams(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** An app as the tutorials create it: a name, the application type and the callback, nothing else. */
async function createTutorialApp(name: string, callback: string): Promise<Record<string, any>> {
  const created = await server.management('POST', '/clients', { name, app_type: 'native', callbacks: [callback] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await enableOnDatabaseConnection(server, created.body.client_id);
  return created.body;
}

const setAuth0Defaults = async (on: boolean) => {
  const patched = await server.management('PATCH', '/tenants/settings', { flags: { auth0_compatible_defaults: on } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
};

/**
 * The Electron tutorial's main process against latchkey: the sign-in URL it concatenates by hand,
 * the code exchange when the callback is intercepted, then one refresh per app restart, each with the
 * refresh token stored at sign-in. The Tauri article sends the same requests with its own callback.
 * Answers at the first step that fails, like the app (which then logs the user out).
 */
async function runElectronTutorial(clientId: string, redirectUri: string, restarts: number) {
  const authenticationUrl =
    `${server.issuer}authorize?audience=${ELECTRON_API}&scope=openid profile offline_access` +
    `&response_type=code&client_id=${clientId}&redirect_uri=${redirectUri}`;
  const callback = callbackParams(await signInWithPassword(new Browser(server.issuer), new URL(authenticationUrl), EMAIL, TEST_PASSWORD));
  if (callback.has('error'))
    return { failedAt: 'authorize', error: callback.get('error'), description: callback.get('error_description') ?? '' };
  const exchanged = await tokenEndpoint(
    { grant_type: 'authorization_code', client_id: clientId, code: callback.get('code')!, redirect_uri: redirectUri },
    'json',
  );
  if (exchanged.status !== 200)
    return { failedAt: 'code exchange', error: exchanged.body.error, description: exchanged.body.error_description };
  assert.ok(exchanged.body.id_token, 'the tutorial decodes the id_token for the profile');
  assert.equal(await callPrivateEndpoint(exchanged.body.access_token), 200);
  const storedRefreshToken = exchanged.body.refresh_token as string;
  assert.ok(storedRefreshToken, 'a refresh token to keep in the keychain');
  for (let restart = 1; restart <= restarts; restart++) {
    const refreshed = await tokenEndpoint({ grant_type: 'refresh_token', client_id: clientId, refresh_token: storedRefreshToken }, 'json');
    if (refreshed.status !== 200)
      return { failedAt: `restart ${restart}`, error: refreshed.body.error, description: refreshed.body.error_description };
    assert.ok(refreshed.body.id_token, 'each restart decodes a new id_token');
    assert.equal(await callPrivateEndpoint(refreshed.body.access_token), 200);
  }
  return { failedAt: undefined };
}

/**
 * Auth0's "Call your API using the Authorization Code Flow with PKCE" for a native app: S256
 * challenge, form-encoded exchange with code_verifier, then its refresh step (which shows no new
 * refresh token coming back, so the app keeps using the one it has) done twice.
 */
async function runPkceTutorial(clientId: string) {
  const { verifier, challenge } = pkcePair();
  const url = new URL(`${server.issuer}authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    client_id: clientId,
    redirect_uri: PKCE_CALLBACK,
    scope: 'openid profile offline_access',
    audience: ELECTRON_API,
    state: 'xyzABC123',
  }).toString();
  const callback = callbackParams(await signInWithPassword(new Browser(server.issuer), url, EMAIL, TEST_PASSWORD));
  assert.equal(callback.get('state'), 'xyzABC123');
  const exchanged = await tokenEndpoint(
    {
      grant_type: 'authorization_code',
      client_id: clientId,
      code_verifier: verifier,
      code: callback.get('code')!,
      redirect_uri: PKCE_CALLBACK,
    },
    'form',
  );
  assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
  const refreshToken = exchanged.body.refresh_token as string;
  const refreshes: TokenAnswer[] = [];
  for (let i = 0; i < 2; i++)
    refreshes.push(await tokenEndpoint({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }, 'form'));
  return refreshes;
}

/** Dynamic Application Registration: the documented registration body, then its implicit sign-in link. */
async function runRegistrationTutorial() {
  const registered = await fetch(`${server.issuer}oidc/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'My Dynamic Application', redirect_uris: DCR_CALLBACKS }),
  });
  assert.equal(registered.status, 201);
  const client = (await registered.json()) as Record<string, any>;
  const url = new URL(`${server.issuer}authorize`);
  // The tutorial's parameter list, nonce and state included (a nonce is required with id_token, by Auth0 too).
  url.search = new URLSearchParams({
    audience: APPOINTMENTS_API,
    scope: 'appointments contacts',
    response_type: 'id_token token',
    client_id: client.client_id,
    redirect_uri: DCR_CALLBACKS[0]!,
    nonce: 'n-0S6_WzA2Mj',
    state: 'af0ifjsldkj',
  }).toString();
  const browser = new Browser(server.issuer);
  let answer = await signInWithPassword(browser, url, EMAIL, TEST_PASSWORD);
  if (answer.headers.get('location')?.startsWith('/u/consent')) {
    // A registered app is third-party: the user is asked, and accepts.
    const fields = formFields(await (await browser.get(answer.headers.get('location')!)).text());
    answer = await browser.postForm('/u/consent', { ...fields, action: 'accept' });
  }
  return { client, callback: callbackParams(answer), location: answer.headers.get('location')! };
}

describe(`a fresh tenant keeps latchkey's strict defaults, and every refusal names the setting (${backend})`, () => {
  before(async () => {
    const dcr = await server.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } });
    assert.equal(dcr.status, 200);
  });

  test('the setting is off, and listed in the tenant settings so an admin can find it', async () => {
    const settings = await server.management('GET', '/tenants/settings');
    assert.equal(settings.body.flags.auth0_compatible_defaults, false);
  });

  test('Electron tutorial: the sign-in URL without PKCE is sent back with invalid_request', async () => {
    const app = await createTutorialApp('Auth0 Electron Demo', ELECTRON_CALLBACK);
    const run = await runElectronTutorial(app.client_id, ELECTRON_CALLBACK, 2);
    assert.equal(run.failedAt, 'authorize');
    assert.equal(run.error, 'invalid_request');
    assert.match(run.description!, /code_challenge/);
    assert.match(run.description!, SETTING);
  });

  test('Tauri article: the same refusal at its custom-scheme callback', async () => {
    const app = await createTutorialApp('Tauri App', TAURI_CALLBACK);
    const run = await runElectronTutorial(app.client_id, TAURI_CALLBACK, 2);
    assert.equal(run.failedAt, 'authorize');
    assert.match(run.description!, SETTING);
  });

  test('Electron tutorial, PKCE waived for the app alone: signed out at the second restart, the setting named', async () => {
    const app = await createTutorialApp('Auth0 Electron Demo (no PKCE)', ELECTRON_CALLBACK);
    assert.equal(app.refresh_token.rotation_type, 'rotating', "latchkey's default for native apps");
    const waived = await server.management('PATCH', `/clients/${app.client_id}`, { require_pkce: false });
    assert.equal(waived.status, 200, JSON.stringify(waived.body));
    assert.equal(waived.body.require_pkce, false);
    const run = await runElectronTutorial(app.client_id, ELECTRON_CALLBACK, 2);
    assert.equal(run.failedAt, 'restart 2', 'the first restart rotates the token the app keeps using');
    assert.equal(run.error, 'invalid_grant');
    assert.match(run.description!, /already used/);
    assert.match(run.description!, SETTING);
  });

  test('PKCE tutorial for native apps: the second refresh with the same token is refused, the setting named', async () => {
    const app = await createTutorialApp('PKCE Native App', PKCE_CALLBACK);
    const [first, second] = await runPkceTutorial(app.client_id);
    assert.equal(first!.status, 200, JSON.stringify(first!.body));
    assert.equal(second!.status, 403);
    assert.equal(second!.body.error, 'invalid_grant');
    assert.match(second!.body.error_description, SETTING);
  });

  test('Dynamic Application Registration: code only, so its implicit link is refused naming the setting', async () => {
    const { client, callback, location } = await runRegistrationTutorial();
    assert.deepEqual(client.response_types, ['code']);
    assert.ok(location.startsWith(`${DCR_CALLBACKS[0]}#`), 'implicit errors travel in the fragment');
    assert.equal(callback.get('error'), 'unauthorized_client');
    assert.match(callback.get('error_description')!, SETTING);
    assert.equal(callback.get('state'), 'af0ifjsldkj');

    const askingForImplicit = await fetch(`${server.issuer}oidc/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: DCR_CALLBACKS, response_types: ['id_token token'] }),
    });
    assert.equal(askingForImplicit.status, 400);
    const refusal = (await askingForImplicit.json()) as { error: string; error_description: string };
    assert.equal(refusal.error, 'invalid_client_metadata');
    assert.match(refusal.error_description, SETTING);
  });
});

describe(`with flags.auth0_compatible_defaults on, the same requests pass (${backend})`, () => {
  let createdBeforeTheSwitch: Record<string, any>;

  before(async () => {
    createdBeforeTheSwitch = await createTutorialApp('Made while strict', ELECTRON_CALLBACK);
    await setAuth0Defaults(true);
  });

  test('Electron tutorial: sign-in, the Express API, and two restarts with the first refresh token', async () => {
    const app = await createTutorialApp('Auth0 Electron Demo', ELECTRON_CALLBACK);
    assert.equal(app.refresh_token.rotation_type, 'non-rotating', "Auth0's default for apps created now");
    const run = await runElectronTutorial(app.client_id, ELECTRON_CALLBACK, 3);
    assert.deepEqual(run, { failedAt: undefined });
  });

  test('Tauri article: the whole sequence at its custom-scheme callback', async () => {
    const app = await createTutorialApp('Tauri App', TAURI_CALLBACK);
    assert.deepEqual(await runElectronTutorial(app.client_id, TAURI_CALLBACK, 2), { failedAt: undefined });
  });

  test('PKCE tutorial for native apps: both refreshes work; no new refresh token comes back', async () => {
    const app = await createTutorialApp('PKCE Native App', PKCE_CALLBACK);
    for (const refreshed of await runPkceTutorial(app.client_id)) {
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(refreshed.body.refresh_token, undefined);
      assert.ok(refreshed.body.id_token);
    }
  });

  test('Dynamic Application Registration: the registered app gets implicit, and its link yields both tokens', async () => {
    const { client, callback } = await runRegistrationTutorial();
    assert.ok(client.response_types.includes('id_token token'), JSON.stringify(client.response_types));
    assert.ok(client.grant_types.includes('implicit'));
    assert.equal(callback.get('error'), null, callback.get('error_description') ?? '');
    assert.equal(callback.get('state'), 'af0ifjsldkj');
    assert.equal(claimsOf(callback.get('id_token')!).nonce, 'n-0S6_WzA2Mj');
    assert.equal(claimsOf(callback.get('id_token')!).aud, client.client_id);
    const access = claimsOf(callback.get('access_token')!);
    assert.ok([access.aud].flat().includes(APPOINTMENTS_API), JSON.stringify(access.aud));
    assert.ok(
      ['appointments', 'contacts'].every((s) => access.scope.split(' ').includes(s)),
      access.scope,
    );
  });

  test('an app created before the switch keeps the rotation it was created with; PKCE follows the switch at once', async () => {
    const stored = await server.management('GET', `/clients/${createdBeforeTheSwitch.client_id}`);
    assert.equal(stored.body.refresh_token.rotation_type, 'rotating');
    const run = await runElectronTutorial(createdBeforeTheSwitch.client_id, ELECTRON_CALLBACK, 2);
    assert.equal(run.failedAt, 'restart 2');
    assert.match(run.description!, /rotation_type 'non-rotating' on the application/);
  });

  test('PKCE sent is still enforced: a wrong verifier, or a verifier for a code without challenge, is refused', async () => {
    const app = await createTutorialApp('Careful App', PKCE_CALLBACK);
    const { challenge } = pkcePair();
    const withChallenge = new URL(`${server.issuer}authorize`);
    withChallenge.search = new URLSearchParams({
      response_type: 'code',
      client_id: app.client_id,
      redirect_uri: PKCE_CALLBACK,
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    const browser = new Browser(server.issuer);
    const code = callbackParams(await signInWithPassword(browser, withChallenge, EMAIL, TEST_PASSWORD)).get('code')!;
    const wrong = await tokenEndpoint(
      { grant_type: 'authorization_code', client_id: app.client_id, code, redirect_uri: PKCE_CALLBACK, code_verifier: pkcePair().verifier },
      'form',
    );
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error, 'invalid_grant');

    const withoutChallenge = new URL(withChallenge);
    withoutChallenge.searchParams.delete('code_challenge');
    withoutChallenge.searchParams.delete('code_challenge_method');
    const plainCode = callbackParams(await browser.get(withoutChallenge)).get('code')!;
    const downgrade = await tokenEndpoint(
      {
        grant_type: 'authorization_code',
        client_id: app.client_id,
        code: plainCode,
        redirect_uri: PKCE_CALLBACK,
        code_verifier: pkcePair().verifier,
      },
      'form',
    );
    assert.equal(downgrade.status, 403);
    assert.match(downgrade.body.error_description, /no code_challenge/);
  });

  test('require_pkce on an app wins over the switch; third-party apps keep PKCE unless told otherwise', async () => {
    const strictApp = await createTutorialApp('Strict App', ELECTRON_CALLBACK);
    const required = await server.management('PATCH', `/clients/${strictApp.client_id}`, { require_pkce: true });
    assert.equal(required.body.require_pkce, true);
    const refused = await runElectronTutorial(strictApp.client_id, ELECTRON_CALLBACK, 0);
    assert.equal(refused.failedAt, 'authorize');
    assert.match(refused.description!, /require_pkce/);
    // null gives the app back to the tenant's default (here: optional).
    const reset = await server.management('PATCH', `/clients/${strictApp.client_id}`, { require_pkce: null });
    assert.equal(reset.status, 200);
    assert.equal('require_pkce' in reset.body, false);
    assert.deepEqual(await runElectronTutorial(strictApp.client_id, ELECTRON_CALLBACK, 0), { failedAt: undefined });

    const thirdParty = await createTutorialApp('Partner Tool', ELECTRON_CALLBACK);
    await server.management('PATCH', `/clients/${thirdParty.client_id}`, { is_first_party: false });
    const partnerRun = await runElectronTutorial(thirdParty.client_id, ELECTRON_CALLBACK, 0);
    assert.equal(partnerRun.failedAt, 'authorize');
    assert.match(partnerRun.description!, /third-party/);

    for (const bad of ['yes', 1, {}]) {
      const invalid = await server.management('PATCH', `/clients/${strictApp.client_id}`, { require_pkce: bad });
      assert.equal(invalid.status, 400, JSON.stringify(bad));
    }
  });

  test('self-registered apps keep rotation and PKCE: the switch gives them implicit only', async () => {
    const registered = await fetch(`${server.issuer}oidc/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['http://127.0.0.1/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    });
    assert.equal(registered.status, 201);
    const { client_id, response_types } = (await registered.json()) as { client_id: string; response_types: string[] };
    assert.deepEqual(response_types, ['code'], 'what it asked for');
    const stored = await server.management('GET', `/clients/${client_id}`);
    assert.equal(stored.body.refresh_token.rotation_type, 'rotating');
    const url = new URL(`${server.issuer}authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri: 'http://127.0.0.1:4000/cb',
      scope: 'openid',
    }).toString();
    const refused = callbackParams(await fetch(url, { redirect: 'manual' }));
    assert.equal(refused.get('error'), 'invalid_request');
    assert.match(refused.get('error_description')!, /third-party/);
  });

  test('turned off again, public apps need PKCE again', async () => {
    await setAuth0Defaults(false);
    const app = await createTutorialApp('After', ELECTRON_CALLBACK);
    const run = await runElectronTutorial(app.client_id, ELECTRON_CALLBACK, 0);
    assert.equal(run.failedAt, 'authorize');
    assert.match(run.description!, SETTING);
  });
});

test(`LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS sets the tenant flag at every start; unset, it leaves it alone (${backend})`, async () => {
  const configured = await startTestServer({ config: { auth0CompatibleDefaults: true } });
  const nodes: TestServer[] = [];
  try {
    const settings = await configured.management('GET', '/tenants/settings');
    assert.equal(settings.body.flags.auth0_compatible_defaults, true);
    const created = await configured.management('POST', '/clients', {
      name: 'Configured',
      app_type: 'native',
      callbacks: [ELECTRON_CALLBACK],
    });
    assert.equal(created.body.refresh_token.rotation_type, 'non-rotating');
    // Later starts on the same database: false wins over what is stored, unset keeps it.
    const off = await startTestServer({ shareWith: configured, config: { auth0CompatibleDefaults: false } });
    nodes.push(off);
    assert.equal((await off.management('GET', '/tenants/settings')).body.flags.auth0_compatible_defaults, false);
    assert.equal((await off.management('PATCH', '/tenants/settings', { flags: { auth0_compatible_defaults: true } })).status, 200);
    const unset = await startTestServer({ shareWith: configured });
    nodes.push(unset);
    assert.equal((await unset.management('GET', '/tenants/settings')).body.flags.auth0_compatible_defaults, true);
  } finally {
    for (const node of nodes.reverse()) await node.close();
    await configured.close();
  }
});
