/**
 * "Several nodes, proven": two real latchkey processes (the CLI, as operators run it) on one
 * PostgreSQL schema, one issuer, behind no balancer: the test is the balancer and sends every step
 * of a sign-in to the other node than the step before. Then what one node changes (a client, the
 * signing key) reaches the other, every counter (login throttle, sign-up, device code guesses,
 * registration cap) is one counter across both, and a node killed with SIGKILL in the middle of
 * code exchanges and refreshes loses nothing that it answered 200: the survivor honours it all.
 *
 * PostgreSQL only: several nodes on one SQLite file is not a supported deployment.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import pg from 'pg';
import { USER_CODE_GUESSES } from '../src/oauth/device.js';
import { Browser, formFields, pkcePair } from './helpers/http-login.js';
import { backend, freePort } from './helpers/server.js';
import { TEST_PASSWORD } from './helpers/tenant.js';

const skip = backend === 'postgres' ? false : 'several nodes share a PostgreSQL database; run with LATCHKEY_TEST_DB=postgres';
const postgresUrl = process.env.LATCHKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lk_test_${randomBytes(6).toString('hex')}`;
const CALLBACK = 'http://127.0.0.1/callback';
const AUDIENCE = 'https://two-nodes.example.test/';
const SIGNUPS_PER_ADDRESS = 4;
const REGISTERED_CLIENTS_CAP = 4;
const ACCOUNT_FAILURES = 10; // src/login/throttle.ts: the per-account limit

interface Node {
  name: 'A' | 'B';
  url: string;
  child: ChildProcess;
  exited: Promise<void>;
}

let dir: string;
let issuer: string;
let env: Record<string, string>;
let nodeA: Node;
let nodeB: Node;
let adminToken: string;
let appId: string;
let webApp: { client_id: string; client_secret: string };
const email = 'two.nodes@example.test';

async function startNode(name: 'A' | 'B', port: number): Promise<Node> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    env: { ...env, LATCHKEY_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('"latchkey started"')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume(); // keep draining, unread
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`node ${name} exited with ${code}: ${stderr}`)));
  });
  return { name, url: `http://127.0.0.1:${port}/`, child, exited };
}

async function management(node: Node, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${node.url}api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function token(node: Node, params: Record<string, string>): Promise<{ status: number; body: any }> {
  const response = await fetch(`${node.url}oauth/token`, { method: 'POST', body: new URLSearchParams(params) });
  return { status: response.status, body: await response.json() };
}

function authorizeUrl(node: Node, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const url = new URL(`${node.url}authorize`);
  const params = {
    response_type: 'code',
    client_id: appId,
    redirect_uri: CALLBACK,
    scope: 'openid profile email offline_access',
    audience: AUDIENCE,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return { url, verifier, state, nonce };
}

/** /authorize on one node, the login page and its form post on the other: the redirect with the code. */
async function signIn(browser: Browser, authorizeOn: Node, loginOn: Node) {
  const request = authorizeUrl(authorizeOn);
  const started = await browser.get(request.url);
  assert.equal(started.status, 302, await started.text());
  const loginPage = await browser.get(new URL(started.headers.get('location')!, loginOn.url));
  assert.equal(loginPage.status, 200);
  const posted = await browser.postForm(new URL('/u/login', loginOn.url), {
    ...formFields(await loginPage.text()),
    username: email,
    password: TEST_PASSWORD,
  });
  assert.equal(posted.status, 302, await posted.text());
  return { ...request, callback: new URL(posted.headers.get('location')!) };
}

/** A code from the SSO session, without a login page. */
async function codeFromSession(browser: Browser, node: Node) {
  const request = authorizeUrl(node);
  const response = await browser.get(request.url);
  assert.equal(response.status, 302);
  const code = new URL(response.headers.get('location')!).searchParams.get('code');
  assert.ok(code, response.headers.get('location')!);
  return { code, verifier: request.verifier };
}

const exchange = (node: Node, code: { code: string; verifier: string }) =>
  token(node, {
    grant_type: 'authorization_code',
    client_id: appId,
    code: code.code,
    code_verifier: code.verifier,
    redirect_uri: CALLBACK,
  });
const refresh = (node: Node, refreshToken: string) =>
  token(node, { grant_type: 'refresh_token', client_id: appId, refresh_token: refreshToken });

/** Polls until `check` holds; answers how long it took, for the log (timings are not asserted). */
async function eventually(check: () => Promise<boolean>, deadlineMs = 10_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`condition not met within ${deadlineMs} ms`);
}

const jwks = (node: Node) => createRemoteJWKSet(new URL(`${node.url}.well-known/jwks.json`), { cacheMaxAge: 0, cooldownDuration: 0 });

describe('two latchkey processes on one PostgreSQL schema', { skip }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-two-nodes-'));
    const [portA, portB] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${portA}/`;
    env = {
      PATH: process.env.PATH ?? '',
      LATCHKEY_HOST: '127.0.0.1',
      // One public name for both nodes, as behind a load balancer.
      LATCHKEY_ISSUER: issuer,
      LATCHKEY_DATABASE_URL: `${postgresUrl}?schema=${schema}`,
      LATCHKEY_DATA_DIR: dir,
      LATCHKEY_MASTER_KEY: randomBytes(32).toString('base64'),
      LATCHKEY_ADMIN_CLIENT_ID: `admin${randomBytes(6).toString('hex')}`,
      LATCHKEY_ADMIN_CLIENT_SECRET: randomBytes(32).toString('base64url'),
      LATCHKEY_LOG_LEVEL: 'info',
      LATCHKEY_SIGNUP_LIMIT_PER_IP: String(SIGNUPS_PER_ADDRESS),
      LATCHKEY_REGISTRATION_MAX_CLIENTS: String(REGISTERED_CLIENTS_CAP),
      LATCHKEY_REGISTRATION_RATE_LIMIT: '1000',
    };
    // One after the other: the first migrates and creates the tenant, the second finds it.
    nodeA = await startNode('A', portA);
    nodeB = await startNode('B', portB);

    const admin = await token(nodeA, {
      grant_type: 'client_credentials',
      client_id: env.LATCHKEY_ADMIN_CLIENT_ID!,
      client_secret: env.LATCHKEY_ADMIN_CLIENT_SECRET!,
      audience: `${issuer}api/v2/`,
    });
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    adminToken = admin.body.access_token;
    const api = await management(nodeB, 'POST', '/resource-servers', {
      name: 'Two nodes API',
      identifier: AUDIENCE,
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
    const app = await management(nodeA, 'POST', '/clients', {
      name: 'Two nodes app',
      app_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      callbacks: [CALLBACK],
      allowed_logout_urls: [CALLBACK],
    });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    appId = app.body.client_id;
    const web = await management(nodeB, 'POST', '/clients', {
      name: 'Two nodes password app',
      app_type: 'regular_web',
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['http://auth0.com/oauth/grant-type/password-realm'],
      callbacks: ['https://web.example.test/callback'],
    });
    assert.equal(web.status, 201, JSON.stringify(web.body));
    webApp = web.body;
    const { body: connections } = await management(nodeA, 'GET', '/connections?name=Username-Password-Authentication');
    const enabled = await management(nodeB, 'PATCH', `/connections/${connections[0].id}`, {
      enabled_clients: [...connections[0].enabled_clients, appId, webApp.client_id],
    });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    for (const address of [email, 'throttled@example.test']) {
      const user = await management(nodeA, 'POST', '/users', {
        connection: 'Username-Password-Authentication',
        email: address,
        password: TEST_PASSWORD,
      });
      assert.equal(user.status, 201, JSON.stringify(user.body));
    }
  });

  after(async () => {
    for (const node of [nodeA, nodeB]) {
      if (node && node.child.exitCode === null && node.child.signalCode === null) {
        node.child.kill('SIGTERM');
        await node.exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    const db = new pg.Client({ connectionString: postgresUrl });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
  });

  test('authorize on A, login on B, code exchange on A (openid-client), refresh on B, logout on A', async () => {
    const browser = new Browser(nodeA.url);
    const { callback, verifier, state, nonce } = await signIn(browser, nodeA, nodeB);

    const onA = await client.discovery(new URL(issuer), appId, { token_endpoint_auth_method: 'none' }, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const tokens = await client.authorizationCodeGrant(onA, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    assert.ok(tokens.refresh_token);
    const verified = await jwtVerify(tokens.access_token, jwks(nodeB), { issuer, audience: AUDIENCE });
    assert.equal(verified.payload.sub, tokens.claims()!.sub);

    // The same app, its token endpoint on B.
    const onB = new client.Configuration(
      { issuer, token_endpoint: `${nodeB.url}oauth/token`, jwks_uri: `${nodeB.url}.well-known/jwks.json` },
      appId,
      { token_endpoint_auth_method: 'none' },
    );
    client.allowInsecureRequests(onB);
    const refreshed = await client.refreshTokenGrant(onB, tokens.refresh_token);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'rotated on B');
    await jwtVerify(refreshed.access_token, jwks(nodeA), { issuer, audience: AUDIENCE });

    // SSO session made on B answers /authorize on A; logout on A ends it for B.
    const sso = await browser.get(authorizeUrl(nodeA, { prompt: 'none' }).url);
    assert.ok(new URL(sso.headers.get('location')!).searchParams.get('code'), 'the session made on B signs in on A');
    const logout = await browser.get(`${nodeA.url}v2/logout?client_id=${appId}&returnTo=${encodeURIComponent(CALLBACK)}`);
    assert.equal(logout.status, 302);
    assert.equal(logout.headers.get('location'), CALLBACK);
    const afterLogout = await browser.get(authorizeUrl(nodeB, { prompt: 'none' }).url);
    assert.equal(new URL(afterLogout.headers.get('location')!).searchParams.get('error'), 'login_required');
  });

  test('a client changed on A takes effect on B', async (t) => {
    const added = 'https://app.example.test/new-callback';
    const tryOnB = async () => (await fetch(authorizeUrl(nodeB, { redirect_uri: added }).url, { redirect: 'manual' })).status;
    assert.equal(await tryOnB(), 400, 'not yet a callback: refused on B (and B has the client cached)');
    const patched = await management(nodeA, 'PATCH', `/clients/${appId}`, { callbacks: [CALLBACK, added] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const ms = await eventually(async () => (await tryOnB()) === 302);
    t.diagnostic(`the new callback was accepted on B ~${ms} ms after the change on A`);
  });

  test('keys rotated while A and B run: tokens from each node verify against the other JWKS', async (t) => {
    const adminCredentials = {
      grant_type: 'client_credentials',
      client_id: env.LATCHKEY_ADMIN_CLIENT_ID!,
      client_secret: env.LATCHKEY_ADMIN_CLIENT_SECRET!,
      audience: `${issuer}api/v2/`,
    };
    const kidOf = async (node: Node) => decodeProtectedHeader((await token(node, adminCredentials)).body.access_token).kid;
    const before = await kidOf(nodeA);
    const rotated = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'keys', 'rotate'], { env, encoding: 'utf8' });
    assert.equal(rotated.status, 0, rotated.stderr);
    const kid = /new signing key (\S+) is current/.exec(rotated.stdout)?.[1];
    assert.ok(kid && kid !== before, rotated.stdout);
    const ms = await eventually(async () => (await kidOf(nodeA)) === kid && (await kidOf(nodeB)) === kid);
    t.diagnostic(`both nodes signed with the new key ~${ms} ms after the rotation`);
    for (const [minter, verifier] of [
      [nodeA, nodeB],
      [nodeB, nodeA],
    ] as const) {
      const minted = (await token(minter, adminCredentials)).body.access_token as string;
      const { protectedHeader } = await jwtVerify(minted, jwks(verifier), { issuer, audience: `${issuer}api/v2/` });
      assert.equal(protectedHeader.kid, kid);
    }
  });

  test('the login throttle is one count across nodes: wrong passwords on A and B lock the account at the same total', async () => {
    const attempt = (node: Node, password: string) =>
      token(node, {
        grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
        realm: 'Username-Password-Authentication',
        client_id: webApp.client_id,
        client_secret: webApp.client_secret,
        username: 'throttled@example.test',
        password,
        scope: 'openid',
      });
    for (let i = 0; i < ACCOUNT_FAILURES; i++) {
      const wrong = await attempt(i % 2 === 0 ? nodeA : nodeB, `Wrong-password-${i}`);
      assert.equal(wrong.status, 403, `attempt ${i}: ${JSON.stringify(wrong.body)}`);
      assert.equal(wrong.body.error, 'invalid_grant');
    }
    for (const node of [nodeA, nodeB]) {
      const locked = await attempt(node, TEST_PASSWORD);
      assert.equal(locked.status, 429, `node ${node.name}: ${JSON.stringify(locked.body)}`);
      assert.equal(locked.body.error, 'too_many_attempts');
    }
  });

  test('the sign-up limit is one count across nodes', async () => {
    const signup = async (node: Node, i: number) => {
      const response = await fetch(`${node.url}dbconnections/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_id: appId,
          connection: 'Username-Password-Authentication',
          email: `new${i}@example.test`,
          password: TEST_PASSWORD,
        }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    const statuses: number[] = [];
    for (let i = 0; i < SIGNUPS_PER_ADDRESS + 2; i++) statuses.push(await signup(i % 2 === 0 ? nodeA : nodeB, i));
    assert.deepEqual(statuses, [...Array(SIGNUPS_PER_ADDRESS).fill(200), 429, 429]);
  });

  test('device user-code guesses are one count across nodes', async () => {
    const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
    const guess = async (node: Node, i: number) => {
      const response = await fetch(`${node.url}activate/confirm?user_code=BBBB-${ALPHABET[i % 20]}${ALPHABET[Math.floor(i / 20) % 20]}BB`);
      await response.arrayBuffer();
      return response.status;
    };
    const limit = USER_CODE_GUESSES.maxFailures;
    const statuses = await Promise.all(Array.from({ length: limit }, (_, i) => guess(i % 2 === 0 ? nodeA : nodeB, i)));
    assert.deepEqual(statuses, Array(limit).fill(400), 'each wrong code is checked until the shared limit');
    assert.equal(await guess(nodeA, limit), 429);
    assert.equal(await guess(nodeB, limit + 1), 429);
  });

  test('the registered-client cap is one count across nodes', async () => {
    const flags = await management(nodeB, 'PATCH', '/tenants/settings', { flags: { enable_dynamic_client_registration: true } });
    assert.equal(flags.status, 200, JSON.stringify(flags.body));
    const register = async (node: Node) => {
      const response = await fetch(`${node.url}oidc/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://registered.example.test/cb'], token_endpoint_auth_method: 'none' }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    // The flag was set on B: A sees it once the change reaches its cache.
    await eventually(async () => {
      const status = await register(nodeA);
      assert.ok(status === 201 || status === 403, String(status));
      return status === 201;
    });
    const statuses: number[] = [];
    for (let i = 1; i < REGISTERED_CLIENTS_CAP + 2; i++) statuses.push(await register(i % 2 === 0 ? nodeA : nodeB));
    assert.deepEqual(statuses, [...Array(REGISTERED_CLIENTS_CAP - 1).fill(201), 403, 403]);
  });

  test('B killed with SIGKILL amid code exchanges and refreshes: A serves on, and nothing B answered 200 is lost', async (t) => {
    const browser = new Browser(nodeA.url);
    await signIn(browser, nodeB, nodeA);
    const LOAD = 16;
    const codes: Array<{ code: string; verifier: string }> = [];
    for (let i = 0; i < 2 * LOAD; i++) codes.push(await codeFromSession(browser, i % 2 === 0 ? nodeA : nodeB));
    const refreshTokens: string[] = [];
    for (const code of codes.splice(0, LOAD)) {
      const exchanged = await exchange(nodeA, code);
      assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
      refreshTokens.push(exchanged.body.refresh_token);
    }

    // Every operation alternates nodes and starts at its own moment; B dies among them.
    type Outcome = { node: Node; kind: 'code' | 'refresh'; status?: number; body?: any; failed?: string };
    let answeredByB = 0;
    let bHasAnswered: () => void;
    const bAnsweredSome = new Promise<void>((resolve) => (bHasAnswered = resolve));
    const run = async (i: number, kind: 'code' | 'refresh'): Promise<Outcome> => {
      const node = i % 2 === 0 ? nodeA : nodeB;
      await new Promise((resolve) => setTimeout(resolve, (i * 13) % 200));
      try {
        const answer = kind === 'code' ? await exchange(node, codes[i]!) : await refresh(node, refreshTokens[i]!);
        if (node === nodeB && ++answeredByB === LOAD / 4) bHasAnswered();
        return { node, kind, ...answer };
      } catch (err) {
        return { node, kind, failed: (err as Error).message };
      }
    };
    const load = Promise.all([
      ...Array.from({ length: LOAD }, (_, i) => run(i, 'code')),
      ...Array.from({ length: LOAD }, (_, i) => run(i, 'refresh')),
    ]);
    // Killed once B has answered a quarter of its share, with more of it in flight and still to come.
    await Promise.race([bAnsweredSome, new Promise((resolve) => setTimeout(resolve, 5000))]);
    nodeB.child.kill('SIGKILL');
    const outcomes = await load;
    await nodeB.exited;

    const onA = outcomes.filter((o) => o.node === nodeA);
    for (const o of onA) assert.equal(o.status, 200, `A answered every request it got: ${JSON.stringify(o)}`);
    const onB = outcomes.filter((o) => o.node === nodeB);
    for (const o of onB) assert.ok(o.status === 200 || o.failed !== undefined, `B answered 200 or not at all: ${JSON.stringify(o)}`);
    t.diagnostic(
      `B answered ${onB.filter((o) => o.status === 200).length} of ${onB.length} before it died; A answered ${onA.length} of ${onA.length}`,
    );

    // Whatever was answered 200, by either node, the survivor honours.
    const keys = jwks(nodeA);
    for (const o of outcomes.filter((x) => x.status === 200)) {
      await jwtVerify(o.body.access_token, keys, { issuer, audience: AUDIENCE });
      if (o.kind === 'code') await jwtVerify(o.body.id_token, keys, { issuer, audience: appId });
      const next = await refresh(nodeA, o.body.refresh_token);
      assert.equal(next.status, 200, `the refresh token from a ${o.kind} answered by ${o.node.name} works: ${JSON.stringify(next.body)}`);
    }
    // And the node keeps serving sign-ins afterwards.
    const fresh = await codeFromSession(browser, nodeA);
    assert.equal((await exchange(nodeA, fresh)).status, 200);
  });
});
