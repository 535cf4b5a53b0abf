import assert from 'node:assert/strict';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { verify as verifyArgon2 } from '@node-rs/argon2';
import { createMD4, pbkdf2 } from 'hash-wasm';
import { authenticateDatabaseUser } from '../src/connections/database.js';
import { encodeCustomPasswordHash, IMPORTED_HASH_PREFIX, MAX_WASM_PBKDF2_QUEUE } from '../src/crypto/imported-hashes.js';
import { verifyArgon2 as argon2Verify, verifyPassword } from '../src/crypto/passwords.js';
import { DomainError } from '../src/domain/errors.js';
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

test('a wrong password pays one argon2id verification whatever the hash: unknown user, argon2id user, fast imported hashes', async () => {
  const connection = (await server.ctx.storage.connections.getByName('Username-Password-Authentication'))!;
  const digest = (algorithm: string, text: string) => createHash(algorithm).update(text).digest('hex');
  const fast: Record<string, unknown> = {
    md5: { algorithm: 'md5', hash: { value: digest('md5', 'Fast-pass-1'), encoding: 'hex' } },
    sha1: { algorithm: 'sha1', hash: { value: digest('sha1', 'Fast-pass-1'), encoding: 'hex' } },
    sha256: { algorithm: 'sha256', hash: { value: digest('sha256', 'salt-Fast-pass-1'), encoding: 'hex' }, salt: { value: 'salt-' } },
    sha512: { algorithm: 'sha512', hash: { value: digest('sha512', 'Fast-pass-1'), encoding: 'hex' } },
    md4: { algorithm: 'md4', hash: { value: 'a448017aaf21d8525fc10ae87aa6729d', encoding: 'hex' } },
    hmac: {
      algorithm: 'hmac',
      hash: { value: digest('sha256', 'x'), encoding: 'hex', digest: 'sha256', key: { value: 'secret' } },
    },
    ldap: { algorithm: 'ldap', hash: { value: `{SHA}${createHash('sha1').update('Fast-pass-1').digest('base64')}` } },
  };
  const users: Array<[string, string | undefined]> = [['nobody@timing.example', undefined]];
  const native = await createUser(server, 'argon2@timing.example', { password: 'Native-pass-1' });
  users.push(['argon2@timing.example', native.user_id]);
  for (const [algorithm, customHash] of Object.entries(fast)) {
    const email = `${algorithm}@timing.example`;
    users.push([email, (await importedUser(email, customHash)).userId]);
  }

  for (const [email, userId] of users) {
    const own = userId ? await storedHash(userId) : undefined;
    const calls: string[] = [];
    const hooks = {
      argon2: (encoded: string, password: string) => {
        calls.push(encoded === own ? 'own hash' : encoded.startsWith('$argon2id$') ? 'decoy' : `other: ${encoded}`);
        return argon2Verify(encoded, password);
      },
    };
    await assert.rejects(
      authenticateDatabaseUser(server.ctx.storage, connection, email, 'Wrong-pass-1', '203.0.113.9', Date.now(), { hooks }),
      (err) => err instanceof DomainError && err.code === 'wrong_credentials',
      email,
    );
    const expected = own?.startsWith('$argon2id$') ? ['own hash'] : ['decoy'];
    assert.deepEqual(calls, expected, `${email}: one argon2id verification, as for an unknown user`);
  }
  // The md5 user is a real one: its right password signs in (and is rehashed, which no failure did).
  const md5 = await authenticateDatabaseUser(
    server.ctx.storage,
    connection,
    'md5@timing.example',
    'Fast-pass-1',
    '203.0.113.9',
    Date.now(),
  );
  assert.equal(md5.email, 'md5@timing.example');
  assert.match(await storedHash(md5.user_id), /^\$argon2id\$/);
});

test('MD4/Whirlpool PBKDF2 checks queue up to a bound; past it a sign-in is refused with 429 at once, and works once drained', async () => {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64').replace(/=+$/, '');
  const salt = Buffer.from('md4-queue-salt');
  const key = (password: string, iterations: number, hashLength: number) =>
    pbkdf2({ password, salt, iterations, hashLength, hashFunction: createMD4(), outputType: 'binary' });
  const stored = (iterations: number, keylen: number, derived: Uint8Array) =>
    IMPORTED_HASH_PREFIX +
    JSON.stringify({
      algorithm: 'pbkdf2',
      hash: { value: `$pbkdf2-md4$i=${iterations},l=${keylen}$${b64(salt)}$${b64(derived)}`, encoding: 'utf8' },
    });
  const { userId, encoded } = await importedUser('md4-pbkdf2@example.com', {
    algorithm: 'pbkdf2',
    hash: { value: `$pbkdf2-md4$i=1000,l=16$${b64(salt)}$${b64(await key('Md4-queue-pass-1', 1000, 16))}`, encoding: 'utf8' },
  });

  // The first check is the heaviest an import allows (seconds: it holds the queue full meanwhile), the rest trivial.
  const heavy = stored(200_000, 64, new Uint8Array(64));
  const light = stored(1, 16, new Uint8Array(16));
  const queued = [verifyPassword('x', heavy), ...Array.from({ length: MAX_WASM_PBKDF2_QUEUE - 1 }, () => verifyPassword('x', light))];
  await assert.rejects(verifyPassword('x', light), (err) => err instanceof DomainError && err.code === 'too_many_requests');

  const refused = await passwordGrant('md4-pbkdf2@example.com', 'Md4-queue-pass-1');
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.equal(refused.body.error, 'too_many_requests');
  assert.match(refused.body.error_description, /Try again in a few seconds/);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  const page = await hostedLogin('md4-pbkdf2@example.com', 'Md4-queue-pass-1');
  assert.equal(page.status, 429);
  assert.match(await page.text(), /Try again in a few seconds/);
  assert.equal(await storedHash(userId), encoded, 'nothing was checked, nothing changed');

  assert.deepEqual(await Promise.all(queued), Array(MAX_WASM_PBKDF2_QUEUE).fill(false), 'the queued checks ran (wrong passwords)');
  const accepted = await passwordGrant('md4-pbkdf2@example.com', 'Md4-queue-pass-1');
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  assert.match(await storedHash(userId), /^\$argon2id\$/);
});
