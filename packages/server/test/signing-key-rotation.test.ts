import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { maxTokenLifetimeSeconds } from '../src/domain/bootstrap.js';
import type { SigningKeyRecord } from '../src/domain/types.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

/**
 * Rotating the signing key, in process and with `latchkey keys rotate` run against the database of
 * a running server: the new key signs at once (or, from another process, as soon as the change feed
 * says so), and the old one stays in the JWKS until the last token it could have signed expires.
 */
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const audience = 'https://rotation.example.test/';

let server: TestServer;
/** The server's clock runs this far ahead of the real one. */
let offsetMs = 0;
let client: { id: string; secret: string };
let apiId: string;
/** Tokens in the order their keys were made current, with their kids. */
const minted: Array<{ token: string; kid: string }> = [];

before(async () => {
  server = await startTestServer({ now: () => Date.now() + offsetMs });
  // Longer than any other lifetime on the tenant, so it sets the publish window.
  const api = await server.management('POST', '/resource-servers', { identifier: audience, token_lifetime: 100_000 });
  assert.equal(api.status, 201, JSON.stringify(api.body));
  apiId = api.body.id;
  const created = await server.management('POST', '/clients', { name: 'rotation worker', app_type: 'non_interactive' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  client = { id: created.body.client_id, secret: created.body.client_secret };
  const grant = await server.management('POST', '/client-grants', { client_id: client.id, audience, scope: [] });
  assert.equal(grant.status, 201, JSON.stringify(grant.body));
});
after(() => server?.close());

async function mint(): Promise<{ token: string; kid: string }> {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret, audience }),
  });
  const body = (await response.json()) as { access_token?: string };
  assert.equal(response.status, 200, JSON.stringify(body));
  const token = body.access_token!;
  return { token, kid: decodeProtectedHeader(token).kid! };
}

async function publishedKids(): Promise<string[]> {
  const response = await fetch(`${server.issuer}.well-known/jwks.json`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
}

/** Verifies as an API would, with a fresh JWKS fetch (no key cache carried between checks). */
async function verify(token: string, at = new Date()) {
  const jwks = createRemoteJWKSet(new URL(`${server.issuer}.well-known/jwks.json`));
  return jwtVerify(token, jwks, { issuer: server.issuer, audience, algorithms: ['RS256'], currentDate: at });
}

async function keyRecord(kid: string): Promise<SigningKeyRecord> {
  const record = (await server.ctx.storage.signingKeys.list()).find((k) => k.kid === kid);
  assert.ok(record, `no stored key ${kid}`);
  return record;
}

/** Polls until `check` holds: another process's write reaches the server's cache asynchronously. */
async function eventually(check: () => Promise<boolean>, deadlineMs = 5000): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`condition not met within ${deadlineMs} ms`);
}

/** `latchkey keys rotate` as an operator would run it: a separate process, configured by env. */
async function runKeysRotate(masterKey: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('LATCHKEY_')) env[name] = value;
  Object.assign(env, {
    LATCHKEY_DATABASE_URL: server.databaseUrl,
    LATCHKEY_DATA_DIR: server.ctx.config.dataDir,
    LATCHKEY_MASTER_KEY: masterKey,
    LATCHKEY_ISSUER: server.issuer,
    LATCHKEY_LOG_LEVEL: 'silent',
  });
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'keys', 'rotate'], {
      cwd: packageDir,
      env,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof code === 'number' ? code : -1, stdout, stderr };
  }
}

test(`rotating in process: the new key signs at once, the old one keeps verifying (${backend})`, async () => {
  const first = await mint();
  minted.push(first);
  assert.deepEqual(await publishedKids(), [first.kid]);

  const window = await maxTokenLifetimeSeconds(server.ctx.storage);
  assert.equal(window, 100_000, 'the longest token lifetime on the tenant');
  const next = await server.ctx.keys.rotate(window);
  assert.notEqual(next.kid, first.kid);

  assert.deepEqual(await publishedKids(), [next.kid, first.kid], 'newest first, old key still published');
  const old = await keyRecord(first.kid);
  assert.equal(old.retiredAt, next.createdAt);
  assert.equal(Date.parse(old.publishUntil!) - Date.parse(old.retiredAt!), window * 1000);

  const second = await mint();
  assert.equal(second.kid, next.kid, 'new tokens carry the new kid');
  minted.push(second);
  for (const { token, kid } of minted) {
    const { protectedHeader } = await verify(token);
    assert.equal(protectedHeader.kid, kid);
  }
});

test("`latchkey keys rotate` against the running server's database: the server picks the new key up", async () => {
  assert.equal(minted.length, 2, 'runs after the in-process rotation');
  // A longer lifetime now: the CLI must keep the retiring key published for it.
  const patched = await server.management('PATCH', `/resource-servers/${apiId}`, { token_lifetime: 200_000 });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));

  const run = await runKeysRotate(server.ctx.config.masterKey!);
  assert.equal(run.code, 0, run.stderr);
  const match = /new signing key (\S+) is current; earlier keys stay published for 200000 s/.exec(run.stdout);
  assert.ok(match, run.stdout);
  const cliKid = match[1]!;

  // The server hears about it through the change feed (PostgreSQL NOTIFY, SQLite data_version).
  await eventually(async () => (await mint()).kid === cliKid);
  assert.deepEqual(await publishedKids(), [cliKid, minted[1]!.kid, minted[0]!.kid]);
  const retired = await keyRecord(minted[1]!.kid);
  assert.equal(Date.parse(retired.publishUntil!) - Date.parse(retired.retiredAt!), 200_000 * 1000);

  const third = await mint();
  assert.equal(third.kid, cliKid);
  assert.equal(decodeJwt(third.token).exp! - decodeJwt(third.token).iat!, 200_000);
  minted.push(third);
  for (const { token, kid } of minted) assert.equal((await verify(token)).protectedHeader.kid, kid);
});

test('`latchkey keys rotate` with another master key refuses, and the server keeps signing', async () => {
  const wrongKey = randomBytes(32).toString('base64');
  const before = await server.ctx.storage.signingKeys.list();
  const run = await runKeysRotate(wrongKey);
  assert.notEqual(run.code, 0, `stdout: ${run.stdout}`);
  assert.match(run.stderr, /LATCHKEY_MASTER_KEY/);
  assert.deepEqual(await server.ctx.storage.signingKeys.list(), before, 'no key sealed with the wrong master key was added');
  assert.equal((await mint()).kid, minted[2]!.kid);
});

test('a retired key leaves the JWKS once every token it signed has expired', async () => {
  assert.equal(minted.length, 3, 'runs after both rotations');
  const [first, second, third] = minted as [(typeof minted)[0], (typeof minted)[0], (typeof minted)[0]];
  const firstUntil = Date.parse((await keyRecord(first.kid)).publishUntil!);
  const secondUntil = Date.parse((await keyRecord(second.kid)).publishUntil!);
  const setClock = (at: number) => {
    offsetMs = at - Date.now();
  };

  // A minute before the first token expires: its key is still published and it still verifies.
  const firstExpires = decodeJwt(first.token).exp! * 1000;
  assert.ok(firstExpires <= firstUntil, 'the key outlives the tokens it signed');
  setClock(firstExpires - 60_000);
  assert.deepEqual(await publishedKids(), [third.kid, second.kid, first.kid]);
  await verify(first.token, new Date(firstExpires - 60_000));

  // Past the first key's window: it is gone; the second key (a longer window) is still there.
  setClock(firstUntil + 60_000);
  assert.ok(firstUntil + 60_000 < secondUntil);
  assert.deepEqual(await publishedKids(), [third.kid, second.kid]);
  await assert.rejects(verify(first.token, new Date(decodeJwt(first.token).iat! * 1000)), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  await verify(second.token, new Date(decodeJwt(second.token).iat! * 1000));

  // Past the second key's window only the current key remains, and it still signs.
  setClock(secondUntil + 60_000);
  assert.deepEqual(await publishedKids(), [third.kid]);
  await assert.rejects(verify(second.token, new Date(decodeJwt(second.token).iat! * 1000)), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  assert.equal((await mint()).kid, third.kid);
});
