import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { encodeCustomPasswordHash, IMPORTED_HASH_PREFIX } from '../src/crypto/imported-hashes.js';
import { verifyPassword } from '../src/crypto/passwords.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * A wrong password costs a full verification, and anonymous sign-in attempts can send wrong passwords
 * (10 per account per 15 minutes, 100 per address per hour): the work one verification does must be
 * bounded, not only the memory it takes. scrypt's work grows with parallelization, PBKDF2's with the
 * number of digest blocks in the key (keylen / digest size), neither of which the memory bound sees.
 */
const B64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

function refusal(input: unknown) {
  const result = encodeCustomPasswordHash(input);
  assert.ok('error' in result, `accepted: ${JSON.stringify(input).slice(0, 200)}`);
  return result.error;
}

test('scrypt: parallelization multiplying the work past the bound is refused at import', () => {
  // 128 MiB of memory (under the 256 MiB bound), but 1024 passes over it: minutes of CPU per attempt.
  const error = refusal({
    algorithm: 'scrypt',
    hash: { value: '00'.repeat(64), encoding: 'hex' },
    salt: { value: 'salt' },
    keylen: 64,
    cost: 2 ** 17,
    blockSize: 8,
    parallelization: 1024,
  });
  assert.equal(error.code, 'INVALID_FORMAT');
  assert.equal(error.path, 'custom_password_hash.parallelization');
  // What real systems use stays importable (Auth0's documented defaults, and p = 16 at 16 MiB).
  for (const parallelization of [1, 16]) {
    const ok = encodeCustomPasswordHash({
      algorithm: 'scrypt',
      hash: { value: '00'.repeat(64), encoding: 'hex' },
      salt: { value: 'salt' },
      keylen: 64,
      cost: 16384,
      blockSize: 8,
      parallelization,
    });
    assert.ok('encoded' in ok, JSON.stringify(ok));
  }
});

test('PBKDF2: a key many digests long multiplies the iterations, and is bounded with them', () => {
  // A million iterations, but a 1024-byte key over SHA-1 is 52 derivations of a million iterations each.
  const error = refusal({
    algorithm: 'pbkdf2',
    hash: { value: `$pbkdf2-sha1$i=1000000,l=1024$${B64(Buffer.from('salt'))}$${B64(randomBytes(1024))}` },
  });
  assert.equal(error.code, 'INVALID_FORMAT');
  assert.equal(error.path, 'custom_password_hash.hash.value');
  assert.match(error.message, /iterations/);
  // One digest long at the iteration bound's own scale stays importable.
  const ok = encodeCustomPasswordHash({
    algorithm: 'pbkdf2',
    hash: { value: `$pbkdf2-sha512$i=1000000,l=64$${B64(Buffer.from('salt'))}$${B64(randomBytes(64))}` },
  });
  assert.ok('encoded' in ok, JSON.stringify(ok));
});

test('a stored hash past the bound (imported before it, or edited in the database) verifies nothing', async () => {
  const salt = randomBytes(16);
  // 16 SHA-512 blocks of 400000 iterations: past the bound, though each part of it is within its own.
  const dk = pbkdf2Sync('Stored-pass-1', salt, 400000, 1024, 'sha512');
  const stored = `${IMPORTED_HASH_PREFIX}${JSON.stringify({
    algorithm: 'pbkdf2',
    hash: { value: `$pbkdf2-sha512$i=400000,l=1024$${B64(salt)}$${B64(dk)}` },
  })}`;
  assert.equal(await verifyPassword('Stored-pass-1', stored), false);
});

test('argon2: memory times passes is bounded, not each alone', () => {
  const phc = (m: number, t: number) => `$argon2id$v=19$m=${m},t=${t},p=1$${B64(randomBytes(16))}$${B64(randomBytes(32))}`;
  // 256 MiB (the memory bound) over 64 passes (the passes bound): half a minute of a thread per attempt.
  const error = refusal({ algorithm: 'argon2', hash: { value: phc(256 * 1024, 64) } });
  assert.equal(error.code, 'INVALID_FORMAT');
  assert.equal(error.path, 'custom_password_hash.hash.value');
  // libsodium's "moderate" (256 MiB, 3 passes), OWASP's and Django's settings, and many passes over little memory.
  for (const [m, t] of [
    [256 * 1024, 3],
    [19456, 2],
    [102400, 2],
    [16 * 1024, 64],
  ] as const) {
    const ok = encodeCustomPasswordHash({ algorithm: 'argon2', hash: { value: phc(m, t) } });
    assert.ok('encoded' in ok, `m=${m},t=${t}: ${JSON.stringify(ok)}`);
  }
});

/** A syntactically valid bcrypt hash of the given cost (its work doubles with each step of cost). */
const bcryptOfCost = (cost: number) => `$2b$${cost}$${'N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'}`;

let server: TestServer | undefined;
after(() => server?.close());

test('bcrypt: a cost past 15 (each step doubles the work; 31 is days a guess) is refused at import', async () => {
  const error = refusal({ algorithm: 'bcrypt', hash: { value: bcryptOfCost(31) } });
  assert.equal(error.code, 'INVALID_FORMAT');
  assert.equal(error.path, 'custom_password_hash.hash.value');
  assert.ok('encoded' in encodeCustomPasswordHash({ algorithm: 'bcrypt', hash: { value: bcryptOfCost(12) } }));

  server = await startTestServer();
  const create = (email: string, cost: number) =>
    server!.management('POST', '/users', { connection: 'Username-Password-Authentication', email, password_hash: bcryptOfCost(cost) });
  const refused = await create('bcrypt-31@example.com', 31);
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.match(refused.body.message, /cost/);
  assert.equal((await create('bcrypt-12@example.com', 12)).status, 201);
  // One stored before the bound verifies nothing rather than run for days.
  assert.equal(await verifyPassword('anything', bcryptOfCost(31)), false);
});
