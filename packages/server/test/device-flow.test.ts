import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const API = 'https://device-api.example.test/';
const EMAIL = 'sam@example.com';
const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'screenshots');
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let server: TestServer;
let browser: Browser;
let clock = Date.now();
let clientId: string;

before(async () => {
  server = await startTestServer({ now: () => clock });
  browser = await launchChromium();
  await createApi(server, API);
  await createUser(server, EMAIL);
  clientId = (await createNativeApp(server, [], { name: 'Build Agent', grant_types: [DEVICE_GRANT, 'refresh_token'] })).client_id;
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
});

async function deviceCode(): Promise<Record<string, any>> {
  const response = await fetch(
    `${server.issuer}oauth/device/code`,
    form({ client_id: clientId, scope: 'openid profile offline_access', audience: API }),
  );
  assert.equal(response.status, 200);
  return response.json() as Promise<Record<string, any>>;
}

const poll = async (code: string) => {
  const response = await fetch(`${server.issuer}oauth/token`, form({ grant_type: DEVICE_GRANT, client_id: clientId, device_code: code }));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};

/** The person's side: open the verification page, type the code, sign in, confirm or cancel. */
async function approveInBrowser(page: Page, verificationUri: string, userCode: string, action: 'Confirm' | 'Cancel', shots = false) {
  await page.goto(verificationUri);
  await page.getByLabel('Code').fill(userCode.toLowerCase().replace('-', ' '));
  if (shots) await page.screenshot({ path: join(SCREENSHOTS, 'device-activate-desktop.png') });
  await page.getByRole('button', { name: 'Continue' }).click();
  if (await page.getByLabel('Password').isVisible()) await submitLogin(page, EMAIL, TEST_PASSWORD);
  await page.getByText(userCode).waitFor();
  if (shots) await page.screenshot({ path: join(SCREENSHOTS, 'device-confirm-desktop.png') });
  await page.getByRole('button', { name: action }).click();
  await page.getByRole('heading', { name: action === 'Confirm' ? 'Device connected' : 'Request cancelled' }).waitFor();
}

test('openid-client polls while the user approves in the browser, and gets tokens once', async () => {
  const config = await client.discovery(new URL(server.issuer), clientId, { token_endpoint_auth_method: 'none' }, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const started = await client.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access', audience: API });
  assert.match(started.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(started.verification_uri, `${server.issuer}activate`);
  assert.equal(started.interval, 5);

  const { context, page, problems } = await newContext(browser);
  const tokensPromise = client.pollDeviceAuthorizationGrant(config, started);
  await approveInBrowser(page, started.verification_uri_complete!, started.user_code, 'Confirm', true);
  const tokens = await tokensPromise;
  assert.ok(tokens.access_token && tokens.refresh_token);
  assert.equal(tokens.claims()!.aud, clientId);
  assert.equal((await poll(started.device_code)).body.error, 'invalid_grant', 'a device code yields tokens once');
  assert.deepEqual(problems, []);
  await context.close();
});

test('polling answers authorization_pending, then slow_down when too fast; cancel gives access_denied', async () => {
  const started = await deviceCode();
  assert.deepEqual(await poll(started.device_code), {
    status: 403,
    body: { error: 'authorization_pending', error_description: 'User has yet to authorize device code.' },
  });
  const tooFast = await poll(started.device_code);
  assert.equal(tooFast.status, 429);
  assert.equal(tooFast.body.error, 'slow_down');
  clock += 5_000;
  assert.equal((await poll(started.device_code)).body.error, 'authorization_pending');

  const { context, page } = await newContext(browser);
  await approveInBrowser(page, started.verification_uri, started.user_code, 'Cancel');
  clock += 5_000;
  assert.deepEqual((await poll(started.device_code)).body.error, 'access_denied');
  await context.close();
});

test('an expired device code answers expired_token; unknown codes are refused on the page', async () => {
  const started = await deviceCode();
  clock += 901_000;
  const expired = await poll(started.device_code);
  assert.equal(expired.status, 403);
  assert.equal(expired.body.error, 'expired_token');

  const { context, page } = await newContext(browser);
  await page.goto(`${server.issuer}activate`);
  await page.getByLabel('Code').fill(started.user_code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').waitFor();
  assert.match((await page.getByRole('alert').textContent())!, /not valid or has expired/);
  await context.close();
});

test('the device endpoint needs a client allowed to use the grant', async () => {
  const other = await createNativeApp(server, ['http://127.0.0.1/callback']);
  const response = await fetch(`${server.issuer}oauth/device/code`, form({ client_id: other.client_id, scope: 'openid' }));
  assert.equal(response.status, 403);
  assert.equal(((await response.json()) as { error: string }).error, 'unauthorized_client');
  const unknown = await fetch(`${server.issuer}oauth/device/code`, form({ client_id: 'nope', scope: 'openid' }));
  assert.equal(unknown.status, 401);
});
