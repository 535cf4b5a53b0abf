import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * The device flow runs post-login when the device gets its tokens, as Auth0 does
 * (`event.transaction.protocol` `oauth2-device-code`); the Action is deployed and bound through the
 * Management API and the user approves in Chromium.
 */
const API = 'https://device-actions.example.test/';
const EMAIL = 'device-actions@example.com';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let server: TestServer;
let browser: Browser;
let clientId: string;

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  await createApi(server, API);
  await createUser(server, EMAIL);
  clientId = (await createNativeApp(server, [], { name: 'TV app', grant_types: [DEVICE_GRANT, 'refresh_token'] })).client_id;
  const created = await server.management('POST', '/actions/actions', {
    name: 'device claims',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: `exports.onExecutePostLogin = async (event, api) => {
      api.accessToken.setCustomClaim('https://example.com/protocol', event.transaction.protocol);
      api.idToken.setCustomClaim('https://example.com/client', event.client.name);
    };`,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const deployed = await server.management('POST', `/actions/actions/${created.body.id}/deploy`);
  assert.ok(deployed.status < 300, JSON.stringify(deployed.body));
  const bound = await server.management('PATCH', '/actions/triggers/post-login/bindings', {
    bindings: [{ ref: { type: 'action_id', value: created.body.id }, display_name: 'device claims' }],
  });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('openid-client gets device-flow tokens carrying the claims of the post-login Action', async () => {
  const config = await client.discovery(new URL(server.issuer), clientId, { token_endpoint_auth_method: 'none' }, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const started = await client.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access', audience: API });
  const { context, page } = await newContext(browser);
  const tokensPromise = client.pollDeviceAuthorizationGrant(config, started);
  await page.goto(String(started.verification_uri_complete));
  await page.getByRole('button', { name: 'Continue' }).click();
  if (await page.getByLabel('Password').isVisible()) await submitLogin(page, EMAIL, TEST_PASSWORD);
  await page.getByText(started.user_code).waitFor();
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Device connected' }).waitFor();
  const tokens = await tokensPromise;
  const access = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  assert.equal(access['https://example.com/protocol'], 'oauth2-device-code');
  assert.equal(tokens.claims()?.['https://example.com/client'], 'TV app');
  await context.close();
});
