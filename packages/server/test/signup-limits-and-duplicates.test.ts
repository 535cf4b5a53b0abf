import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { authorizeUrl, Browser, formFields, pkcePair } from './helpers/http-login.js';
import { assertStrictPage, decodeHtml, TestClock } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * Sign-ups cost an argon2id hash and a row that never expires, so they are limited per address and
 * per tenant (429 + Retry-After, as the login lock answers), on the hosted page and on
 * /dbconnections/signup alike. A taken email is told as such: on the page with a way to log in,
 * on the API with Auth0's `user_exists`.
 */
const clock = new TestClock();
const PER_ADDRESS = 4;
const PER_TENANT = 6;
let server: TestServer;
let clientId: string;
const redirectUri = 'http://127.0.0.1:50320/callback';
const existing = 'already-here@example.test';
/** A second source address: Linux answers on all of 127/8. */
const otherAddress = '127.0.0.2';

before(async () => {
  server = await startTestServer({ now: clock.now, config: { signupLimitPerIp: PER_ADDRESS, signupLimitPerTenant: PER_TENANT } });
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'])).client_id;
  await createUser(server, existing);
});
after(() => server?.close());

/** POST /dbconnections/signup from 127.0.0.1 or another local address (node:http can choose it). */
function apiSignup(
  email: string,
  localAddress = '127.0.0.1',
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const body = JSON.stringify({ client_id: clientId, connection: 'Username-Password-Authentication', email, password: TEST_PASSWORD });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${server.issuer}dbconnections/signup`,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
          resolve({ status: res.statusCode!, headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The hosted sign-up page of a new transaction: the browser and the form's hidden fields. */
async function signupPage(): Promise<{ browser: Browser; fields: Record<string, string> }> {
  const browser = new Browser(server.issuer);
  const start = await browser.get(
    authorizeUrl(server.issuer, {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid profile',
      screen_hint: 'signup',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }),
  );
  const page = await browser.get(start.headers.get('location')!);
  assert.equal(page.status, 200);
  return { browser, fields: formFields(await page.text()) };
}

function assertLimited(result: { status: number; headers: Headers }, limit: number) {
  assert.equal(result.status, 429);
  const retryAfter = Number(result.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= 3600, `Retry-After ${result.headers.get('retry-after')}`);
  assert.equal(result.headers.get('x-ratelimit-limit'), String(limit));
  assert.equal(result.headers.get('x-ratelimit-remaining'), '0');
}

const userCount = async () => ((await server.management('GET', '/users?per_page=100')).body as unknown[]).length;

describe('a taken email', () => {
  test('the hosted page says the account exists and links to the login page of the same transaction', async () => {
    const { browser, fields } = await signupPage();
    const taken = await browser.postForm('/u/signup', { ...fields, email: existing, password: 'Another-pass-99' });
    assert.equal(taken.status, 400);
    const body = await taken.text();
    assertStrictPage(taken, body);
    assert.match(body, /An account with this email address already exists\./);
    assert.doesNotMatch(body, /Something went wrong/);
    const link = /<div class="alert error"[^>]*>[^<]*<a href="([^"]+)">Log in instead<\/a><\/div>/.exec(body);
    assert.ok(link, 'a log-in link in the message');
    assert.equal(decodeHtml(link[1]!), `/u/login?state=${encodeURIComponent(fields.state!)}`);
    const login = await browser.get(decodeHtml(link[1]!));
    assert.equal(login.status, 200);
    assert.match(await login.text(), /action="\/u\/login"/);
  });

  test('/dbconnections/signup answers as Auth0 does: 400 user_exists', async () => {
    const taken = await apiSignup(existing, otherAddress);
    assert.equal(taken.status, 400);
    assert.deepEqual(taken.body, {
      name: 'BadRequestError',
      code: 'user_exists',
      description: 'The user already exists.',
      statusCode: 400,
    });
  });
});

describe('sign-up limits', () => {
  test('per address and per tenant, counted atomically: parallel sign-ups stop at the limit with 429 and Retry-After', async () => {
    // Both taken-email tests above counted: one from 127.0.0.1, one from 127.0.0.2 (tenant: 2).
    const before = await userCount();
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => apiSignup(`a${i}@example.test`)));
    assert.equal(first.filter((r) => r.status === 200).length, PER_ADDRESS - 1);
    for (const refused of first.filter((r) => r.status !== 200)) {
      assertLimited(refused, PER_ADDRESS);
      assert.deepEqual(Object.keys(refused.body).sort(), ['code', 'description', 'name', 'statusCode']);
      assert.equal(refused.body.code, 'too_many_requests');
    }
    // Another address has its own allowance, but only up to what is left of the tenant's.
    const second = await Promise.all(Array.from({ length: 8 }, (_, i) => apiSignup(`b${i}@example.test`, otherAddress)));
    const leftForTenant = PER_TENANT - 2 - (PER_ADDRESS - 1);
    assert.equal(second.filter((r) => r.status === 200).length, leftForTenant);
    const refused = second.filter((r) => r.status !== 200);
    for (const r of refused) assertLimited(r, r.headers.get('x-ratelimit-limit') === String(PER_TENANT) ? PER_TENANT : PER_ADDRESS);
    assert.equal(refused.filter((r) => r.headers.get('x-ratelimit-limit') === String(PER_TENANT)).length, PER_ADDRESS - 1 - leftForTenant);
    assert.equal(await userCount(), before + PER_ADDRESS - 1 + leftForTenant);
  });

  test('the hosted page shares the limit and answers 429 with Retry-After; an hour later sign-up works again', async () => {
    const { browser, fields } = await signupPage();
    const refused = await browser.postForm('/u/signup', { ...fields, email: 'page-user@example.test', password: TEST_PASSWORD });
    assertLimited(refused, PER_ADDRESS);
    const body = await refused.text();
    assertStrictPage(refused, body);
    assert.match(body, /Too many sign-ups/);

    clock.advance(60 * 60_000 + 1000);
    const later = await signupPage();
    const again = await later.browser.postForm('/u/signup', { ...later.fields, email: 'page-user@example.test', password: TEST_PASSWORD });
    assert.equal(again.status, 302);
    assert.ok((await server.management('GET', `/users-by-email?email=page-user@example.test`)).body.length === 1);
  });
});
