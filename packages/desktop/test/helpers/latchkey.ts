import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { createApi as createExampleApi } from '../../../../examples/api/src/api.js';
import { launchChromium, newContext, submitLogin } from '../../../server/test/helpers/chromium.js';
import { startTestServer, type TestServer } from '../../../server/test/helpers/server.js';
import { createUser, TEST_PASSWORD } from '../../../server/test/helpers/tenant.js';

export { createNativeApp, TEST_PASSWORD } from '../../../server/test/helpers/tenant.js';
export { newContext, submitLogin };

export const API = 'https://api.example.test/';
export const EMAIL = 'ada@example.com';
export const PICTURE = 'https://images.example.test/ada.png';
/** Short, so a test can move the SDK's clock past an access token's expiry without touching the id_token's. */
export const ACCESS_TOKEN_LIFETIME = 300;

export interface Latchkey {
  server: TestServer;
  browser: Browser;
  /** The examples/api Express app, guarding GET /private for API. */
  apiUrl: string;
  close(): Promise<void>;
}

/** A real latchkey (SQLite or PostgreSQL per LATCHKEY_TEST_DB), a user, the example API, Chromium. */
export async function startLatchkey(): Promise<Latchkey> {
  const server = await startTestServer();
  const created = await server.management('POST', '/resource-servers', {
    name: 'Example API',
    identifier: API,
    signing_alg: 'RS256',
    allow_offline_access: true,
    token_lifetime: ACCESS_TOKEN_LIFETIME,
    skip_consent_for_verifiable_first_party_clients: true,
    scopes: [{ value: 'read:messages', description: 'Read your messages' }],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await createUser(server, EMAIL, { picture: PICTURE });
  const api: Server = createExampleApi({ issuerBaseURL: server.issuer, audience: API }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => api.once('listening', resolve));
  const browser = await launchChromium();
  return {
    server,
    browser,
    apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => api.close(() => resolve()));
      await server.close();
    },
  };
}

export async function callApi(apiUrl: string, accessToken: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${apiUrl}/private`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, body: await response.json() };
}

/** A refresh_token grant sent directly, not through the SDK: what an attacker holding the token would do. */
export async function directRefresh(server: TestServer, clientId: string, refreshToken: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }),
  });
  return { status: response.status, body: await response.json() };
}

/** The user at the hosted login page, once the SDK has opened it in the "system browser". */
export function signInAtLoginPage(page: Page): Promise<void> {
  return submitLogin(page, EMAIL, TEST_PASSWORD);
}
