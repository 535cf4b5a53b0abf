import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from './helpers/http-login.js';
import { assertOAuthError, authorizationCode, TestClock, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createApi, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * Reuse detection under parallel presentations of one refresh token, on both backends: once a
 * family is revoked, no token of it works, whichever request inserted its token last.
 */
const clock = new TestClock();
const callback = 'http://127.0.0.1/callback';
const redirectUri = 'http://127.0.0.1:50300/callback';
const email = 'refresh-race@example.test';
const PARALLEL = 20;
const REPETITIONS = 50;
let server: TestServer;
let rotating: { client_id: string };
let withLeeway: { client_id: string };
let nonRotating: { client_id: string };
let browser: Browser;

before(async () => {
  server = await startTestServer({ now: clock.now });
  await createApi(server);
  rotating = await createNativeApp(server, [callback], { name: 'Race App' });
  withLeeway = await createNativeApp(server, [callback], {
    name: 'Race Leeway App',
    refresh_token: { rotation_type: 'rotating', leeway: 30 },
  });
  nonRotating = await createNativeApp(server, [callback], {
    name: 'Race Non-rotating App',
    refresh_token: { rotation_type: 'non-rotating' },
  });
  await createUser(server, email);
  browser = new Browser(server.issuer);
});

after(() => server?.close());

async function firstRefreshToken(clientId: string): Promise<string> {
  const { code, verifier } = await authorizationCode(
    server,
    browser,
    { client_id: clientId, redirect_uri: redirectUri, scope: 'openid offline_access' },
    { email, password: TEST_PASSWORD },
  );
  const result = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  assert.equal(result.status, 200, JSON.stringify(result.body));
  assert.ok(result.body.refresh_token);
  return result.body.refresh_token;
}

async function revoke(clientId: string, token: string): Promise<void> {
  const response = await fetch(`${server.issuer}oauth/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, token }),
  });
  assert.equal(response.status, 200);
}

const refresh = (clientId: string, refreshToken: string) =>
  tokenRequest(server, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });

/** Every token given, and what each still yields: none may be usable. */
async function assertFamilyDead(clientId: string, tokens: string[], context: string): Promise<void> {
  for (const token of tokens) {
    const result = await refresh(clientId, token);
    assert.equal(result.status, 403, `${context}: a token of the revoked family still works: ${JSON.stringify(result.body)}`);
    assertOAuthError(result, 403, 'invalid_grant');
  }
}

describe('refresh token reuse racing its rotation', () => {
  test(`${PARALLEL} parallel presentations of one rotating token, ${REPETITIONS} times: then no token of the family works`, async () => {
    let reuseSeen = 0;
    for (let run = 0; run < REPETITIONS; run++) {
      const original = await firstRefreshToken(rotating.client_id);
      const results = await Promise.all(Array.from({ length: PARALLEL }, () => refresh(rotating.client_id, original)));
      for (const result of results) {
        assert.ok(result.status === 200 || result.status === 403, `run ${run}: ${result.status} ${JSON.stringify(result.body)}`);
        if (result.status === 403) assertOAuthError(result, 403, 'invalid_grant');
      }
      // Without leeway, a second presentation is reuse whatever the order: at most one wins.
      const issued = results.filter((r) => r.status === 200).map((r) => r.body.refresh_token as string);
      assert.ok(issued.length <= 1, `run ${run}: ${issued.length} requests rotated one token`);
      reuseSeen += results.filter((r) => r.status === 403).length > 0 ? 1 : 0;
      await assertFamilyDead(rotating.client_id, [original, ...issued], `run ${run}`);
    }
    assert.equal(reuseSeen, REPETITIONS);
  });

  test('sequential rotation still works: each new token once, for many steps', async () => {
    let token = await firstRefreshToken(rotating.client_id);
    const seen = new Set([token]);
    for (let step = 0; step < 10; step++) {
      const result = await refresh(rotating.client_id, token);
      assert.equal(result.status, 200, `step ${step}: ${JSON.stringify(result.body)}`);
      token = result.body.refresh_token;
      assert.ok(!seen.has(token));
      seen.add(token);
    }
  });

  test('within the leeway parallel presentations all succeed; a reuse after it revokes every successor', async () => {
    const original = await firstRefreshToken(withLeeway.client_id);
    const results = await Promise.all(Array.from({ length: PARALLEL }, () => refresh(withLeeway.client_id, original)));
    for (const result of results) assert.equal(result.status, 200, JSON.stringify(result.body));
    const successors = results.map((r) => r.body.refresh_token as string);
    assert.equal(new Set(successors).size, PARALLEL);
    // A lost response is not theft: each successor rotates on.
    const grandchildren: string[] = [];
    for (const token of successors.slice(0, 3)) {
      const next = await refresh(withLeeway.client_id, token);
      assert.equal(next.status, 200, JSON.stringify(next.body));
      grandchildren.push(next.body.refresh_token);
    }

    clock.advance(31_000);
    assertOAuthError(await refresh(withLeeway.client_id, original), 403, 'invalid_grant');
    await assertFamilyDead(withLeeway.client_id, [...successors, ...grandchildren], 'after the leeway');
  });

  test('after the leeway, parallel presentations of a rotated token revoke the family, late successors included', async () => {
    for (let run = 0; run < 10; run++) {
      const original = await firstRefreshToken(withLeeway.client_id);
      const first = await refresh(withLeeway.client_id, original);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      clock.advance(31_000);
      // Racing the revocation: presentations of the successor rotate while the original is reused.
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => refresh(withLeeway.client_id, i % 2 === 0 ? original : first.body.refresh_token)),
      );
      const issued = results.filter((r) => r.status === 200).map((r) => r.body.refresh_token as string);
      await assertFamilyDead(withLeeway.client_id, [original, first.body.refresh_token, ...issued], `run ${run}`);
    }
  });

  test('/oauth/revoke racing parallel rotations (within the leeway) and non-rotating refreshes: afterwards nothing works', async () => {
    for (let run = 0; run < 10; run++) {
      for (const client of [withLeeway, nonRotating]) {
        const original = await firstRefreshToken(client.client_id);
        const racing = Array.from({ length: PARALLEL }, (_, i) =>
          i === PARALLEL / 2 ? revoke(client.client_id, original).then(() => undefined) : refresh(client.client_id, original),
        );
        const results = (await Promise.all(racing)).filter((r) => r !== undefined);
        const issued = results.filter((r) => r.status === 200 && r.body.refresh_token).map((r) => r.body.refresh_token as string);
        await assertFamilyDead(
          client.client_id,
          [original, ...issued],
          `run ${run}, ${client === nonRotating ? 'non-rotating' : 'leeway'}`,
        );
      }
    }
  });
});
