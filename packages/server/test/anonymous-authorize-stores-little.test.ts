import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KyselyStorage } from '../src/storage/kysely/index.js';
import { authorizeUrl, Browser, pkcePair } from './helpers/http-login.js';
import { assertStrictPage, TestClock } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

/**
 * An anonymous /authorize may make latchkey store only a small, bounded login transaction: every
 * stored parameter is validated or capped, a transaction lives ten minutes until its page is
 * shown, and one address holds at most LATCHKEY_LOGIN_TRANSACTIONS_PER_IP of them.
 */
const clock = new TestClock();
const MAX_PENDING = 5;
let server: TestServer;
let clientId: string;
const redirectUri = 'http://127.0.0.1:50310/callback';

before(async () => {
  server = await startTestServer({ now: clock.now, config: { loginTransactionsPerIp: MAX_PENDING } });
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'])).client_id;
});
after(() => server?.close());

const db = () => (server.ctx.storage as unknown as KyselyStorage).db;
const storedRows = () => db().selectFrom('login_transactions').select(['id', 'data', 'expires_at', 'source']).execute();

function authorize(params: Record<string, string> = {}): URL {
  return authorizeUrl(server.issuer, {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile',
    state: 'st',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    ...params,
  });
}

/** /authorize answered with its login page: the transaction id. */
async function started(browser: Browser, params: Record<string, string> = {}): Promise<string> {
  const response = await browser.get(authorize(params));
  assert.equal(response.status, 302);
  const location = response.headers.get('location')!;
  assert.match(location, /^\/u\/(login|signup)\?state=/);
  return new URL(location, server.issuer).searchParams.get('state')!;
}

describe('stored /authorize parameters are validated or capped', () => {
  test('an oversized or unknown value goes back to the app as invalid_request and nothing is stored', async () => {
    const marker = 'MARKER';
    const refused: Array<[Record<string, string>, RegExp]> = [
      [{ screen_hint: marker + 'x'.repeat(4090) }, /screen_hint/],
      [{ screen_hint: `${marker}-bogus` }, /Unsupported screen_hint/],
      [{ state: marker + 'x'.repeat(1025) }, /state is too long \(at most 1024/],
      [{ nonce: marker + 'x'.repeat(513) }, /nonce is too long \(at most 512/],
      [{ login_hint: marker + 'x'.repeat(255) }, /login_hint is too long \(at most 254/],
      [{ connection: marker + 'x'.repeat(129) }, /connection is too long/],
      [{ audience: marker + 'x'.repeat(601) }, /audience is too long/],
    ];
    for (const [params, description] of refused) {
      const before = (await storedRows()).length;
      const response = await new Browser(server.issuer).get(authorize(params));
      assert.equal(response.status, 302, JSON.stringify(params).slice(0, 60));
      const location = new URL(response.headers.get('location')!);
      assert.equal(`${location.origin}${location.pathname}`, redirectUri);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.match(location.searchParams.get('error_description')!, description);
      assert.equal(response.headers.getSetCookie().length, 0, 'no transaction cookie');
      const rows = await storedRows();
      assert.equal(rows.length, before);
      assert.ok(!rows.some((row) => row.data.includes(marker)), 'nothing of the refused request is stored');
    }
  });

  test('before the redirect URI is trusted, an oversized parameter is shown on the error page, not redirected', async () => {
    const response = await fetch(authorize({ client_id: 'c'.repeat(5000) }), { redirect: 'manual' });
    assert.equal(response.status, 400);
    assertStrictPage(response, await response.text());
    assert.equal(response.headers.get('location'), null);
  });

  test('the largest accepted request stays small; repeated prompt values are kept once', async () => {
    const browser = new Browser(server.issuer);
    const id = await started(browser, {
      state: 's'.repeat(1024),
      nonce: 'n'.repeat(512),
      login_hint: 'l'.repeat(254),
      screen_hint: 'signup',
      prompt: Array(500).fill('login').join(' '),
    });
    const row = (await storedRows()).find((r) => r.id === id)!;
    assert.ok(row.data.length < 2500, `stored ${row.data.length} bytes`);
    assert.deepEqual(JSON.parse(row.data).request.prompt, ['login']);
    // screen_hint=login is Auth0's other value, and is accepted.
    await started(new Browser(server.issuer), { screen_hint: 'login' });
  });
});

describe('pending transactions are bounded in time and per address', () => {
  test('ten minutes until the page is shown, an hour from the start once it is', async () => {
    const unshown = await started(new Browser(server.issuer));
    const viewer = new Browser(server.issuer);
    const shown = await started(viewer);
    const start = clock.now();
    assert.equal((await viewer.get(`/u/login?state=${shown}`)).status, 200);
    const expiries = new Map((await storedRows()).map((r) => [r.id, Date.parse(r.expires_at) - start]));
    assert.equal(expiries.get(unshown), 10 * 60_000);
    assert.equal(expiries.get(shown), 60 * 60_000);

    clock.advance(11 * 60_000);
    const stale = new Browser(server.issuer);
    const again = await started(stale);
    assert.equal((await stale.get(`/u/login?state=${again}`)).status, 200);
    assert.equal((await viewer.get(`/u/login?state=${shown}`)).status, 200, 'the shown transaction lives on');
    await server.ctx.storage.sweepExpired(new Date(clock.now()).toISOString());
    const ids = (await storedRows()).map((r) => r.id);
    assert.ok(!ids.includes(unshown), 'the unshown one expired and was swept');
    assert.ok(ids.includes(shown));
  });

  test(`one address holds at most ${MAX_PENDING} pending transactions; those nearest expiry give way, parallel requests too`, async () => {
    const viewer = new Browser(server.issuer);
    const kept = await started(viewer);
    assert.equal((await viewer.get(`/u/login?state=${kept}`)).status, 200);
    await Promise.all(Array.from({ length: 20 }, () => started(new Browser(server.issuer))));
    const last = new Browser(server.issuer);
    const newest = await started(last);
    const rows = await storedRows();
    assert.equal(new Set(rows.map((r) => r.source)).size, 1, 'every test request comes from 127.0.0.1');
    assert.ok(rows.length <= MAX_PENDING, `${rows.length} rows`);
    const ids = rows.map((r) => r.id);
    assert.ok(ids.includes(kept), 'a transaction whose page was shown outlives the unshown ones');
    assert.ok(ids.includes(newest));
    assert.equal((await last.get(`/u/login?state=${newest}`)).status, 200);
    assert.ok(
      rows.every((r) => r.source && !r.source.includes('127.0.0.1')),
      'a digest of the address, not the address',
    );
  });
});
