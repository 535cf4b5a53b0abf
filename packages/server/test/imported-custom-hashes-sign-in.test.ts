import assert from 'node:assert/strict';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { verify as verifyArgon2 } from '@node-rs/argon2';
import { encodeCustomPasswordHash, IMPORTED_HASH_PREFIX } from '../src/crypto/imported-hashes.js';
import { authorizeUrl, Browser, callbackParams, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp, createPasswordGrantApp, createUser } from './helpers/tenant.js';

let server: TestServer;
let nativeId: string;
let web: { client_id: string; client_secret?: string };

before(async () => {
  server = await startTestServer();
  nativeId = (await createNativeApp(server, ['http://127.0.0.1/callback'])).client_id;
  web = await createPasswordGrantApp(server);
});
after(() => server.close());

const hostedLogin = (email: string, password: string) =>
  signInWithPassword(
    new Browser(server.issuer),
    authorizeUrl(server.issuer, {
      client_id: nativeId,
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }),
    email,
    password,
  );

const passwordGrant = (email: string, password: string) =>
  tokenRequest(server, {
    grant_type: 'password',
    client_id: web.client_id,
    client_secret: web.client_secret!,
    username: email,
    password,
    scope: 'openid',
  });

/** A user as the import job will leave one: the stored hash is what encodeCustomPasswordHash returned. */
async function importedUser(email: string, customPasswordHash: unknown): Promise<{ userId: string; encoded: string }> {
  const result = encodeCustomPasswordHash(customPasswordHash);
  assert.ok('encoded' in result, JSON.stringify(result));
  const userId = (await createUser(server, email, { password: 'Placeholder-pass-1' })).user_id as string;
  const record = (await server.ctx.storage.users.get(userId))!;
  assert.equal(await server.ctx.storage.users.update({ ...record, passwordHash: result.encoded }), true);
  return { userId, encoded: result.encoded };
}

const storedHash = async (userId: string) => (await server.ctx.storage.users.get(userId))!.passwordHash!;

test('an imported pbkdf2 user signs in on the hosted login page, and the hash becomes argon2id', async () => {
  const salt = randomBytes(16);
  const dk = pbkdf2Sync('Old-system-pass-1', salt, 10000, 32, 'sha256');
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  const { userId, encoded } = await importedUser('pbkdf2@example.com', {
    algorithm: 'pbkdf2',
    hash: { value: `$pbkdf2-sha256$i=10000,l=32$${b64(salt)}$${b64(dk)}`, encoding: 'utf8' },
  });
  assert.equal(await storedHash(userId), encoded);

  assert.equal((await hostedLogin('pbkdf2@example.com', 'Old-system-pass-2')).status, 400, 'a wrong password is refused');
  assert.equal(await storedHash(userId), encoded, 'and changes nothing');

  assert.ok(callbackParams(await hostedLogin('pbkdf2@example.com', 'Old-system-pass-1')).get('code'));
  const upgraded = await storedHash(userId);
  assert.match(upgraded, /^\$argon2id\$/);
  assert.ok(!upgraded.startsWith(IMPORTED_HASH_PREFIX), 'the imported verifier is gone');
  assert.equal(await verifyArgon2(upgraded, 'Old-system-pass-1'), true, 'argon2id of the same password');

  assert.ok(callbackParams(await hostedLogin('pbkdf2@example.com', 'Old-system-pass-1')).get('code'), 'the second sign-in works');
  assert.equal(await storedHash(userId), upgraded, 'and leaves the argon2id hash as it was');
  assert.equal((await hostedLogin('pbkdf2@example.com', 'Old-system-pass-2')).status, 400);
});

test('an imported salted sha256 user signs in with the password grant, and the hash becomes argon2id', async () => {
  const { userId, encoded } = await importedUser('sha256@example.com', {
    algorithm: 'sha256',
    hash: { value: createHash('sha256').update('pepper:Legacy-pass-9').digest('base64'), encoding: 'base64' },
    salt: { value: 'pepper:', position: 'prefix' },
  });

  const wrong = await passwordGrant('sha256@example.com', 'Legacy-pass-8');
  assert.equal(wrong.status, 403, JSON.stringify(wrong.body));
  assert.equal(wrong.body.error, 'invalid_grant');
  assert.equal(await storedHash(userId), encoded);

  const first = await passwordGrant('sha256@example.com', 'Legacy-pass-9');
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.ok(first.body.access_token);
  const upgraded = await storedHash(userId);
  assert.match(upgraded, /^\$argon2id\$/);

  const second = await passwordGrant('sha256@example.com', 'Legacy-pass-9');
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(await storedHash(userId), upgraded);
});

test('an imported md4 user (a digest OpenSSL 3 keeps out of its default provider) signs in and is upgraded', async () => {
  // MD4 of "abc" from RFC 1320.
  const { userId } = await importedUser('md4@example.com', {
    algorithm: 'md4',
    hash: { value: Buffer.from('a448017aaf21d8525fc10ae87aa6729d', 'hex').toString('base64'), encoding: 'base64' },
  });
  assert.ok(callbackParams(await hostedLogin('md4@example.com', 'abc')).get('code'));
  assert.match(await storedHash(userId), /^\$argon2id\$/);
});
