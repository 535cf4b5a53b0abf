import assert from 'node:assert/strict';
import { argon2Sync, createHash, createHmac, pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { test } from 'node:test';
import { hashSync as bcryptHash } from '@node-rs/bcrypt';
import { createHMAC, createMD4, createWhirlpool, pbkdf2 as wasmPbkdf2 } from 'hash-wasm';
import { encodeCustomPasswordHash } from '../src/crypto/imported-hashes.js';
import { needsRehash, verifyPassword } from '../src/crypto/passwords.js';

/**
 * Expected hashes are computed here with node:crypto (independently of the verifier), or taken from
 * published vectors: Auth0's import documentation, RFC 1320 (MD4), RFC 2202/4231 (HMAC), RFC 6070
 * (PBKDF2), RFC 7914 (scrypt).
 */
const B64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

function encoded(input: unknown): string {
  const result = encodeCustomPasswordHash(input);
  assert.ok('encoded' in result, JSON.stringify(result));
  return result.encoded;
}

async function assertVerifies(name: string, input: unknown, password: string) {
  const stored = encoded(input);
  assert.equal(await verifyPassword(password, stored), true, `${name}: the right password`);
  assert.equal(await verifyPassword(`${password}x`, stored), false, `${name}: a wrong password`);
  assert.equal(await verifyPassword('', stored), false, `${name}: an empty password`);
  assert.equal(needsRehash(stored), true, `${name}: replaced by argon2id at the first sign-in`);
}

test("Auth0's documented examples verify: bcrypt and salted sha256 of 'hello'", async () => {
  await assertVerifies(
    'bcrypt',
    { algorithm: 'bcrypt', hash: { value: '$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K' } },
    'hello',
  );
  // The salt position example of the schema: MD5('salt' + 'password'), upper-case hex.
  await assertVerifies(
    'md5 prefix',
    {
      algorithm: 'md5',
      hash: { value: '67A1E09BB1F83F5007DC119C14D663AA', encoding: 'hex' },
      salt: { value: 'salt', position: 'prefix' },
      password: {},
    },
    'password',
  );
  await assertVerifies(
    'sha256',
    {
      algorithm: 'sha256',
      hash: { value: '7054f76f832d2d4e244f73b3f3f4c3702cb60a573ed12441c90f159df560fcb5', encoding: 'hex' },
      salt: { value: 'keyboardcat', position: 'prefix' },
    },
    'hello',
  );
});

test("every custom_password_hash example of Auth0's import documentation is accepted; the HMAC one is 'test'", async () => {
  const examples = [
    { algorithm: 'md4', hash: { value: 'AbuUujgF0pPPkJPSFRTpmA==', encoding: 'base64' } },
    {
      algorithm: 'sha256',
      hash: { value: 'd24e794fce503c3ddb1cd1ba1dd5d9b250cf9917336a0316fefd87fecf79200f', encoding: 'hex' },
      salt: { value: 'abc123', position: 'prefix' },
    },
    { algorithm: 'bcrypt', hash: { value: '$2b$10$C9hB01.YxRSTcn/ZOOo4j.TW7xCKKFKBSF.C7E0xiUwumqIDqWUXG' } },
    {
      algorithm: 'argon2',
      hash: { value: '$argon2id$v=19$m=65536,t=2,p=1$J6Q/82PCyaNpYKRELJyTZg$m04qUAB8rexWDR4+/0f+SFB+4XMFxt7YAvAq2UycYos' },
    },
    {
      algorithm: 'pbkdf2',
      hash: {
        value:
          '$pbkdf2-md4$i=100000,l=64$+N375B8q0Fw$fp2R9KAM4hK/votGHC5Fu+jhqbxUD8+Nic/EMSGvNC3UP/k7wSHI0uXluHRSkZfl/BOheYqNOemayG90ZaSSQw',
        encoding: 'utf8',
      },
    },
    {
      algorithm: 'pbkdf2',
      hash: {
        value:
          '$pbkdf2-sha512$i=100000,l=64$KNyFsA2rWoE$I2CQGI9H0JxdDf3kERRI97kPCGxh0KWBIV3MxyaS191gDGfzVBGyS4BibhgqWQ0/ails8mHuU9ckASxHOOq58w',
      },
    },
    {
      algorithm: 'ldap',
      hash: { value: '{SSHA384}/cgEjdoZh85DhurDeOQEMO1rMlAur93SVPbYe5XSD4lF7nNuvrBju5hUeg9A6agRemgSXGl5YuE=', encoding: 'utf8' },
    },
  ];
  for (const example of examples) encoded(example);
  await assertVerifies(
    'hmac example',
    {
      algorithm: 'hmac',
      hash: { value: 'cg7f42jH39/2EaAU4wNd4s2lKIk=', encoding: 'base64', digest: 'sha1', key: { value: '736868', encoding: 'hex' } },
    },
    'test',
  );
});

test('MD4 and Whirlpool, which OpenSSL 3 keeps in its legacy provider, go through hash-wasm (PBKDF2 in a worker)', async () => {
  // Expected values from hash-wasm used directly; MD4 itself is checked against RFC 1320 above.
  const salt = randomBytes(8);
  const key = Buffer.from('hmac key');
  for (const [digest, create] of [
    ['md4', createMD4],
    ['whirlpool', createWhirlpool],
  ] as const) {
    const hmac = await createHMAC(create(), key);
    hmac.init();
    hmac.update(Buffer.concat([Buffer.from('Wasm-pass-1'), salt]));
    await assertVerifies(
      `hmac-${digest}`,
      {
        algorithm: 'hmac',
        hash: { value: hmac.digest('hex'), encoding: 'hex', digest, key: { value: key.toString('utf8'), encoding: 'utf8' } },
        salt: { value: salt.toString('base64'), encoding: 'base64', position: 'suffix' },
      },
      'Wasm-pass-1',
    );
    const dk = Buffer.from(
      await wasmPbkdf2({ password: 'Wasm-pass-1', salt, iterations: 2000, hashLength: 48, hashFunction: create(), outputType: 'binary' }),
    );
    await assertVerifies(
      `pbkdf2-${digest}`,
      { algorithm: 'pbkdf2', hash: { value: `$pbkdf2-${digest}$i=2000,l=48$${B64(salt)}$${B64(dk)}` } },
      'Wasm-pass-1',
    );
  }
});

test('published vectors: MD4 (RFC 1320), HMAC (RFC 2202, 4231), PBKDF2 (RFC 6070), scrypt (RFC 7914)', async () => {
  await assertVerifies('md4 abc', { algorithm: 'md4', hash: { value: 'a448017aaf21d8525fc10ae87aa6729d', encoding: 'hex' } }, 'abc');
  await assertVerifies(
    'md4 upper-case hex',
    { algorithm: 'md4', hash: { value: 'D9130A8164549FE818874806E1C7014B', encoding: 'hex' } },
    'message digest',
  );
  await assertVerifies(
    'hmac-md5',
    {
      algorithm: 'hmac',
      hash: { value: '750c783e6ab0b503eaa86e310a5db738', encoding: 'hex', digest: 'md5', key: { value: 'Jefe' } },
    },
    'what do ya want for nothing?',
  );
  await assertVerifies(
    'hmac-sha256',
    {
      algorithm: 'hmac',
      hash: {
        value: Buffer.from('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'hex').toString('base64'),
        encoding: 'base64',
        digest: 'sha256',
        key: { value: Buffer.from('Jefe').toString('hex'), encoding: 'hex' },
      },
    },
    'what do ya want for nothing?',
  );
  const rfc6070 = Buffer.from('ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957', 'hex');
  await assertVerifies(
    'pbkdf2-sha1',
    { algorithm: 'pbkdf2', hash: { value: `$pbkdf2-sha1$i=2,l=20$${B64(Buffer.from('salt'))}$${B64(rfc6070)}`, encoding: 'utf8' } },
    'password',
  );
  await assertVerifies(
    'scrypt',
    {
      algorithm: 'scrypt',
      hash: {
        value:
          'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162' +
          '2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
        encoding: 'hex',
      },
      salt: { value: 'NaCl' },
      keylen: 64,
      cost: 1024,
      blockSize: 8,
      parallelization: 16,
    },
    'password',
  );
});

test('every algorithm, with hashes computed by node:crypto', async () => {
  const password = 'Tr0ub4dor&3-ünïcødé';
  const salt = randomBytes(12);
  for (const algorithm of ['md5', 'sha1', 'sha256', 'sha512'] as const) {
    const plain = createHash(algorithm).update(password).digest();
    await assertVerifies(algorithm, { algorithm, hash: { value: plain.toString('hex'), encoding: 'hex' } }, password);
    const suffixed = createHash(algorithm)
      .update(Buffer.concat([Buffer.from(password), salt]))
      .digest();
    await assertVerifies(
      `${algorithm} salt suffix (base64 salt, base64url hash)`,
      {
        algorithm,
        hash: { value: suffixed.toString('base64url'), encoding: 'base64' },
        salt: { value: salt.toString('base64'), encoding: 'base64', position: 'suffix' },
      },
      password,
    );
    const prefixed = createHash(algorithm)
      .update(Buffer.concat([salt, Buffer.from(password)]))
      .digest();
    await assertVerifies(
      `${algorithm} salt prefix (hex salt)`,
      {
        algorithm,
        hash: { value: prefixed.toString('base64'), encoding: 'base64' },
        salt: { value: salt.toString('hex'), encoding: 'hex', position: 'prefix' },
      },
      password,
    );
  }

  for (const encoding of ['utf16le', 'ucs2', 'latin1', 'ascii', 'binary'] as const) {
    const latinPassword = 'Pässwörd-1';
    const digest = createHash('sha1').update(Buffer.from(latinPassword, encoding)).digest('hex');
    await assertVerifies(
      `sha1 of a ${encoding} password`,
      { algorithm: 'sha1', hash: { value: digest, encoding: 'hex' }, password: { encoding } },
      latinPassword,
    );
  }

  for (const digest of ['sha1', 'sha224', 'sha384', 'sha512', 'ripemd160'] as const) {
    const key = randomBytes(16);
    const mac = createHmac(digest, key)
      .update(Buffer.concat([salt, Buffer.from(password)]))
      .digest('base64');
    await assertVerifies(
      `hmac-${digest}`,
      {
        algorithm: 'hmac',
        hash: { value: mac, encoding: 'base64', digest, key: { value: key.toString('base64'), encoding: 'base64' } },
        salt: { value: salt.toString('hex'), encoding: 'hex', position: 'prefix' },
      },
      password,
    );
  }

  for (const [digest, nodeDigest] of [
    ['sha256', 'sha256'],
    ['sha512', 'sha512'],
    ['RSA-SHA1', 'sha1'],
    ['md5', 'md5'],
    ['rmd160', 'ripemd160'],
    ['sha384WithRSAEncryption', 'sha384'],
  ] as const) {
    const dk = pbkdf2Sync(password, salt, 1500, 32, nodeDigest);
    await assertVerifies(
      `pbkdf2-${digest}`,
      { algorithm: 'pbkdf2', hash: { value: `$pbkdf2-${digest}$i=1500,l=32$${B64(salt)}$${B64(dk)}` } },
      password,
    );
  }
  // i and l default to 100000 and 64 when the PHC string leaves them out.
  const defaults = pbkdf2Sync(password, salt, 100000, 64, 'sha512');
  await assertVerifies(
    'pbkdf2 defaults',
    { algorithm: 'pbkdf2', hash: { value: `$pbkdf2-sha512$${B64(salt)}$${B64(defaults)}`, encoding: 'utf8' } },
    password,
  );

  const scrypted = scryptSync(password, salt, 32, { N: 2048, r: 4, p: 2 });
  await assertVerifies(
    'scrypt base64',
    {
      algorithm: 'scrypt',
      hash: { value: scrypted.toString('base64'), encoding: 'base64' },
      salt: { value: salt.toString('base64'), encoding: 'base64' },
      keylen: 32,
      cost: 2048,
      blockSize: 4,
      parallelization: 2,
    },
    password,
  );

  for (const variant of ['argon2id', 'argon2i', 'argon2d'] as const) {
    const nonce = randomBytes(16);
    const tag = argon2Sync(variant, { message: password, nonce, parallelism: 1, tagLength: 32, memory: 4096, passes: 3 });
    await assertVerifies(
      variant,
      { algorithm: 'argon2', hash: { value: `$${variant}$v=19$m=4096,t=3,p=1$${B64(nonce)}$${B64(tag)}` } },
      password,
    );
  }

  await assertVerifies('bcrypt $2b$', { algorithm: 'bcrypt', hash: { value: bcryptHash(password, { cost: 4 }) } }, password);
});

test('ldap userPassword values (RFC 2307): {SHA}, {SSHA}, {SMD5}, {SSHA512}', async () => {
  // OpenLDAP's own example: {SHA} of "secret".
  assert.equal(`{SHA}${createHash('sha1').update('secret').digest('base64')}`, '{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=');
  await assertVerifies('{SHA}', { algorithm: 'ldap', hash: { value: '{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=', encoding: 'utf8' } }, 'secret');
  const salt = randomBytes(8);
  for (const [scheme, digest] of [
    ['SSHA', 'sha1'],
    ['SMD5', 'md5'],
    ['SSHA256', 'sha256'],
    ['SSHA512', 'sha512'],
    ['ssha384', 'sha384'],
  ] as const) {
    const value = Buffer.concat([
      createHash(digest)
        .update(Buffer.concat([Buffer.from('secret'), salt]))
        .digest(),
      salt,
    ]);
    await assertVerifies(`{${scheme}}`, { algorithm: 'ldap', hash: { value: `{${scheme}}${value.toString('base64')}` } }, 'secret');
  }
  await assertVerifies(
    '{MD5}',
    { algorithm: 'ldap', hash: { value: `{MD5}${createHash('md5').update('secret').digest('base64')}` } },
    'secret',
  );
});

test('malformed custom_password_hash objects are refused field by field, in the import job error shape', () => {
  const cases: Array<[unknown, string, string]> = [
    ['not an object', 'INVALID_TYPE', 'custom_password_hash'],
    [{ hash: { value: 'x' } }, 'OBJECT_MISSING_REQUIRED_PROPERTY', 'custom_password_hash'],
    [{ algorithm: 'md5' }, 'OBJECT_MISSING_REQUIRED_PROPERTY', 'custom_password_hash'],
    [{ algorithm: 'crypt', hash: { value: 'x' } }, 'ENUM_MISMATCH', 'custom_password_hash.algorithm'],
    [{ algorithm: 'md5', hash: { value: 'x' }, salt_prefix: 'a' }, 'OBJECT_ADDITIONAL_PROPERTIES', 'custom_password_hash'],
    [{ algorithm: 'md5', hash: 'abc' }, 'INVALID_TYPE', 'custom_password_hash.hash'],
    [{ algorithm: 'md5', hash: {} }, 'OBJECT_MISSING_REQUIRED_PROPERTY', 'custom_password_hash.hash'],
    [{ algorithm: 'md5', hash: { value: 42 } }, 'INVALID_TYPE', 'custom_password_hash.hash.value'],
    [{ algorithm: 'md5', hash: { value: 'ab', encoding: 'base32' } }, 'ENUM_MISMATCH', 'custom_password_hash.hash.encoding'],
    [{ algorithm: 'md5', hash: { value: 'not hex', encoding: 'hex' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.value'],
    [{ algorithm: 'md5', hash: { value: 'abcd', encoding: 'hex' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.value'],
    [{ algorithm: 'sha1', hash: { value: 'abcd' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.encoding'],
    [
      { algorithm: 'md5', hash: { value: '00'.repeat(16), encoding: 'hex' }, salt: { value: 'zz', encoding: 'hex' } },
      'INVALID_FORMAT',
      'custom_password_hash.salt.value',
    ],
    [
      { algorithm: 'md5', hash: { value: '00'.repeat(16), encoding: 'hex' }, salt: { value: 'a', position: 'middle' } },
      'ENUM_MISMATCH',
      'custom_password_hash.salt.position',
    ],
    [
      { algorithm: 'md5', hash: { value: '00'.repeat(16), encoding: 'hex' }, salt: { position: 'prefix' } },
      'OBJECT_MISSING_REQUIRED_PROPERTY',
      'custom_password_hash.salt',
    ],
    [
      { algorithm: 'md5', hash: { value: '00'.repeat(16), encoding: 'hex' }, password: { encoding: 'ebcdic' } },
      'ENUM_MISMATCH',
      'custom_password_hash.password.encoding',
    ],
    [{ algorithm: 'bcrypt', hash: { value: '$2y$10$abc' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.value'],
    [
      { algorithm: 'bcrypt', hash: { value: bcryptHash('x', { cost: 4 }), encoding: 'hex' } },
      'INVALID_FORMAT',
      'custom_password_hash.hash.encoding',
    ],
    [
      { algorithm: 'bcrypt', hash: { value: bcryptHash('x', { cost: 4 }) }, salt: { value: 'a', position: 'prefix' } },
      'INVALID_FORMAT',
      'custom_password_hash.salt',
    ],
    [{ algorithm: 'argon2', hash: { value: '$argon2id$v=19$m=65536' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.value'],
    [
      { algorithm: 'argon2', hash: { value: '$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo' } },
      'INVALID_FORMAT',
      'custom_password_hash.hash.value',
    ],
    [{ algorithm: 'pbkdf2', hash: { value: '$pbkdf2-nope$i=1,l=20$c2FsdA$aGFzaA' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.value'],
    [
      { algorithm: 'pbkdf2', hash: { value: '$pbkdf2-sha1$i=2,l=32$c2FsdA$6mwBTcctb4zNHtkqzh1B8NjeiVc' } },
      'INVALID_FORMAT',
      'custom_password_hash.hash.value',
    ],
    [
      { algorithm: 'pbkdf2', hash: { value: '$pbkdf2-sha1$i=999999999,l=20$c2FsdA$6mwBTcctb4zNHtkqzh1B8NjeiVc' } },
      'INVALID_FORMAT',
      'custom_password_hash.hash.value',
    ],
    [
      { algorithm: 'pbkdf2', hash: { value: '$pbkdf2-mdc2$i=2,l=20$c2FsdA$6mwBTcctb4zNHtkqzh1B8NjeiVc' } },
      'INVALID_FORMAT',
      'custom_password_hash.hash.value',
    ],
    [
      { algorithm: 'hmac', hash: { value: '00', encoding: 'hex', key: { value: 'k' } } },
      'OBJECT_MISSING_REQUIRED_PROPERTY',
      'custom_password_hash.hash',
    ],
    [
      { algorithm: 'hmac', hash: { value: '00', encoding: 'hex', digest: 'sha1' } },
      'OBJECT_MISSING_REQUIRED_PROPERTY',
      'custom_password_hash.hash',
    ],
    [
      { algorithm: 'hmac', hash: { value: '00', encoding: 'hex', digest: 'sha3', key: { value: 'k' } } },
      'ENUM_MISMATCH',
      'custom_password_hash.hash.digest',
    ],
    [
      { algorithm: 'hmac', hash: { value: '00', encoding: 'hex', digest: 'sha1', key: { value: 'k', encoding: 'hex' } } },
      'INVALID_FORMAT',
      'custom_password_hash.hash.key.value',
    ],
    [{ algorithm: 'ldap', hash: { value: '{CRYPT}aa0123456789' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.value'],
    [{ algorithm: 'ldap', hash: { value: '{SSHA}', encoding: 'utf8' } }, 'INVALID_FORMAT', 'custom_password_hash.hash.value'],
    [
      { algorithm: 'scrypt', hash: { value: '00'.repeat(32), encoding: 'hex' }, keylen: 32 },
      'OBJECT_MISSING_REQUIRED_PROPERTY',
      'custom_password_hash',
    ],
    [
      { algorithm: 'scrypt', hash: { value: '00'.repeat(32), encoding: 'hex' }, salt: { value: 's' } },
      'OBJECT_MISSING_REQUIRED_PROPERTY',
      'custom_password_hash',
    ],
    [
      { algorithm: 'scrypt', hash: { value: '00'.repeat(32), encoding: 'hex' }, salt: { value: 's' }, keylen: 32, cost: 1000 },
      'INVALID_FORMAT',
      'custom_password_hash.cost',
    ],
    [
      {
        algorithm: 'scrypt',
        hash: { value: '00'.repeat(32), encoding: 'hex' },
        salt: { value: 's' },
        keylen: 32,
        cost: 2 ** 22,
        blockSize: 8,
      },
      'INVALID_FORMAT',
      'custom_password_hash.cost',
    ],
    [
      { algorithm: 'scrypt', hash: { value: '00'.repeat(32), encoding: 'hex' }, salt: { value: 's' }, keylen: 1.5 },
      'INVALID_TYPE',
      'custom_password_hash.keylen',
    ],
    [{ algorithm: 'md5', hash: { value: '00'.repeat(16), encoding: 'hex' }, keylen: 16 }, 'INVALID_FORMAT', 'custom_password_hash.keylen'],
    [{ algorithm: 'md5', hash: { value: 'a'.repeat(5000), encoding: 'hex' } }, 'MAX_LENGTH', 'custom_password_hash.hash.value'],
  ];
  for (const [input, code, path] of cases) {
    const result = encodeCustomPasswordHash(input);
    assert.ok('error' in result, `accepted: ${JSON.stringify(input)}`);
    assert.deepEqual({ code: result.error.code, path: result.error.path }, { code, path }, JSON.stringify(input));
    assert.ok(result.error.message.length > 0);
  }
});

test('a stored form that was tampered with verifies nothing', async () => {
  const stored = encoded({ algorithm: 'md5', hash: { value: createHash('md5').update('pw').digest('hex'), encoding: 'hex' } });
  assert.equal(await verifyPassword('pw', stored), true);
  assert.equal(await verifyPassword('pw', `${stored.slice(0, -2)}`), false);
  assert.equal(await verifyPassword('pw', stored.replace('"md5"', '"crypt"')), false);
});
