/**
 * Behind a reverse proxy every request comes from the proxy's address, so without
 * LATCHKEY_TRUST_PROXY one attacker's 100 wrong passwords lock every user out. With the proxy
 * trusted, the address counted is the client's from X-Forwarded-For; without it (the default),
 * X-Forwarded-For is ignored, so a client cannot pick its own address.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { THROTTLE } from '../src/login/throttle.js';
import { PASSWORD_REALM_GRANT } from '../src/oauth/grants/password.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createUser, TEST_PASSWORD } from './helpers/tenant.js';

async function passwordLogin(
  server: TestServer,
  client: { client_id: string; client_secret?: string },
  username: string,
  password: string,
  forwardedFor: string,
) {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
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
}

/** An attacker at 203.0.113.7 exhausts its address's failures; then a user at 198.51.100.2 signs in. */
async function attackThenSignIn(trustProxy: string | number | undefined): Promise<{ attacker: number; user: number }> {
  const server = await startTestServer(trustProxy !== undefined ? { config: { trustProxy } } : {});
  try {
    const client = await createAppClient(server, { name: 'web', app_type: 'regular_web', grant_types: [PASSWORD_REALM_GRANT] });
    const user = await createUser(server, 'ada@example.com');
    // Different unknown accounts each time, so only the per-address limit is reached.
    for (let batch = 0; batch < THROTTLE.ip.maxFailures; batch += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => passwordLogin(server, client, `nobody${batch + i}@example.com`, 'wrong', '203.0.113.7')),
      );
    }
    return {
      attacker: await passwordLogin(server, client, user.email, TEST_PASSWORD, '203.0.113.7'),
      user: await passwordLogin(server, client, user.email, TEST_PASSWORD, '198.51.100.2'),
    };
  } finally {
    await server.close();
  }
}

test('with the proxy trusted, two clients behind it are throttled separately', async () => {
  const { attacker, user } = await attackThenSignIn('127.0.0.1');
  assert.equal(attacker, 429, 'the attacking address is locked');
  assert.equal(user, 200, 'another address behind the same proxy is not');
});

test('a hop count trusts the nearest proxy the same way', async () => {
  const { attacker, user } = await attackThenSignIn(1);
  assert.deepEqual({ attacker, user }, { attacker: 429, user: 200 });
});

test('by default X-Forwarded-For is ignored: the socket peer is the address counted', async () => {
  const { attacker, user } = await attackThenSignIn(undefined);
  assert.deepEqual({ attacker, user }, { attacker: 429, user: 429 });
});

test('a bad LATCHKEY_TRUST_PROXY stops the start, naming the variable', () => {
  for (const value of ['10.0.0.0/33', 'proxy.example.com', 'true', '10.0.0.1,', '-1']) {
    assert.throws(
      () => loadConfig({ LATCHKEY_TRUST_PROXY: value }),
      (err: unknown) => err instanceof ConfigError && /^ {2}LATCHKEY_TRUST_PROXY: /m.test(err.message),
      value,
    );
  }
  assert.equal(loadConfig({ LATCHKEY_TRUST_PROXY: '2' }).trustProxy, 2);
  assert.equal(loadConfig({ LATCHKEY_TRUST_PROXY: '10.0.0.0/8, ::1, loopback' }).trustProxy, '10.0.0.0/8, ::1, loopback');
});
