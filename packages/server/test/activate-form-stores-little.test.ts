import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { UNSHOWN_TRANSACTION_LIFETIME_MS } from '../src/login/authorization-flow.js';
import type { KyselyStorage } from '../src/storage/kysely/index.js';
import { Browser, formFields } from './helpers/http-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

/**
 * POST /activate with a live user code, from a browser with no session, stores a login transaction.
 * Anyone can get a live user code (any device may ask for one) and post the form in a loop, so those
 * transactions are bounded like /authorize's: capped per address, short-lived until their page is shown.
 */
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MAX_PENDING = 3;
let server: TestServer;
let clientId: string;

before(async () => {
  server = await startTestServer({ config: { loginTransactionsPerIp: MAX_PENDING } });
  clientId = (await createNativeApp(server, [], { name: 'TV App', grant_types: [DEVICE_GRANT] })).client_id;
});
after(() => server?.close());

const rows = () =>
  (server.ctx.storage as unknown as KyselyStorage).db.selectFrom('login_transactions').select(['id', 'expires_at']).execute();

test('posting a live user code again and again holds at most the per-address number of transactions', async () => {
  const started = await fetch(`${server.issuer}oauth/device/code`, {
    method: 'POST',
    body: new URLSearchParams({ client_id: clientId, scope: 'openid' }),
  });
  const { user_code } = (await started.json()) as { user_code: string };
  const browser = new Browser(server.issuer);
  const csrf = formFields(await (await browser.get('/activate')).text()).csrf!;
  for (let i = 0; i < MAX_PENDING * 3; i++) {
    const response = await browser.postForm('/activate', { csrf, user_code });
    assert.equal(response.status, 302);
    assert.match(response.headers.get('location')!, /^\/u\/login\?state=/);
  }
  const stored = await rows();
  assert.equal(stored.length, MAX_PENDING);
  for (const row of stored) {
    assert.ok(Date.parse(String(row.expires_at)) <= Date.now() + UNSHOWN_TRANSACTION_LIFETIME_MS + 5_000, 'short-lived until shown');
  }
});
