/**
 * An IPv6 subscriber usually holds a whole /64, so a limit counted per single IPv6 address counts
 * nothing: the attacker takes a fresh address for every guess. Every per-address limit (device user
 * codes, the login throttle's address lock, open registration) counts the /64, as sign-ups already do.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { THROTTLE } from '../src/login/throttle.js';
import { USER_CODE_GUESSES } from '../src/oauth/device.js';
import { PASSWORD_REALM_GRANT } from '../src/oauth/grants/password.js';
import { TestClock } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createUser, TEST_PASSWORD } from './helpers/tenant.js';

let server: TestServer;

before(async () => {
  // The test talks through a "proxy" on 127.0.0.1, so X-Forwarded-For picks the client's address.
  server = await startTestServer({ config: { trustProxy: '127.0.0.1' } });
});
after(() => server?.close());

/** A different address of the same /64 for every request. */
const inNetwork = (network: string, i: number) => `${network}:${(i + 1).toString(16)}:0:0:${(i % 7).toString(16)}`;
const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const wrongCode = (i: number) => `CCCC-${ALPHABET[i % 20]}${ALPHABET[Math.floor(i / 20) % 20]}CC`;

test('device user codes: wrong guesses from one /64 share one limit, however many addresses they use', async () => {
  const network = '2001:db8:1:1';
  const statuses: number[] = [];
  for (let i = 0; i <= USER_CODE_GUESSES.maxFailures; i++) {
    const response = await fetch(`${server.issuer}activate/confirm?user_code=${wrongCode(i)}`, {
      headers: { 'x-forwarded-for': inNetwork(network, i) },
    });
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  assert.equal(statuses.filter((s) => s === 400).length, USER_CODE_GUESSES.maxFailures);
  assert.equal(statuses.at(-1), 429, 'the guess past the limit is refused, from a new address of the same /64');
  // Another /64 is someone else.
  const other = await fetch(`${server.issuer}activate/confirm?user_code=${wrongCode(0)}`, {
    headers: { 'x-forwarded-for': '2001:db8:1:2::1' },
  });
  await other.arrayBuffer();
  assert.equal(other.status, 400);
});

test('password logins: the address lock covers the whole /64', async () => {
  const client = await createAppClient(server, { name: 'web', app_type: 'regular_web', grant_types: [PASSWORD_REALM_GRANT] });
  const user = await createUser(server, 'grace@example.com');
  const login = async (username: string, password: string, ip: string) => {
    const response = await fetch(`${server.issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify({
        grant_type: PASSWORD_REALM_GRANT,
        realm: 'Username-Password-Authentication',
        client_id: client.client_id,
        client_secret: client.client_secret,
        username,
        password,
      }),
    });
    await response.arrayBuffer();
    return response.status;
  };
  const network = '2001:db8:2:1';
  for (let batch = 0; batch < THROTTLE.ip.maxFailures; batch += 10) {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => login(`nobody${batch + i}@example.com`, 'wrong', inNetwork(network, batch + i))),
    );
  }
  assert.equal(await login(user.email, TEST_PASSWORD, inNetwork(network, 5000)), 429, 'a fresh address of the locked /64');
  assert.equal(await login(user.email, TEST_PASSWORD, '2001:db8:2:2::1'), 200, 'another /64 signs in');
});

test('open registration: the per-address rate limit counts the /64', async () => {
  const clock = new TestClock();
  clock.value = Date.parse('2026-11-23T12:00:30.500Z');
  const node = await startTestServer({ now: clock.now, config: { trustProxy: '127.0.0.1', registrationRateLimit: 2 } });
  try {
    await node.management('PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } });
    const register = async (ip: string) => {
      const response = await fetch(`${node.issuer}oidc/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        body: JSON.stringify({ redirect_uris: ['https://v6.example.test/cb'], token_endpoint_auth_method: 'none' }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await register(inNetwork('2001:db8:3:1', i)));
    assert.deepEqual(statuses, [201, 201, 429, 429]);
    assert.equal(await register('2001:db8:3:2::1'), 201, 'another /64 has its own allowance');
  } finally {
    await node.close();
  }
});
