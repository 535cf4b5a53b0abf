import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hash as bcryptHash, verify as verifyBcrypt } from '@node-rs/bcrypt';
import { encodeCustomPasswordHash } from '../src/crypto/imported-hashes.js';
import { verifyPassword } from '../src/crypto/passwords.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createUser, TEST_PASSWORD } from './helpers/tenant.js';

let server: TestServer;
let outDir: string;

/** `latchkey users export ...` as an operator runs it: a child process on the server's database. */
function runExport(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'users', 'export', ...args], {
    env: {
      ...process.env,
      LATCHKEY_DATABASE_URL: server.databaseUrl,
      LATCHKEY_DATA_DIR: server.ctx.config.dataDir,
      LATCHKEY_MASTER_KEY: server.ctx.config.masterKey ?? '',
      LATCHKEY_ISSUER: server.issuer,
      LATCHKEY_LOG_LEVEL: 'silent',
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

const LEGACY_SALT = 'NaCl-salt';
const LEGACY_PASSWORD = 'Legacy-sha1-pass';
const BCRYPT_PASSWORD = 'Bcrypt-import-pass';

before(async () => {
  server = await startTestServer();
  outDir = mkdtempSync(join(tmpdir(), 'latchkey-export-'));

  await createUser(server, 'native@example.com', {
    given_name: 'Ada',
    family_name: 'Lovelace',
    app_metadata: { plan: 'gold' },
    user_metadata: { theme: 'dark' },
    blocked: true,
  });
  const bcrypted = await server.management('POST', '/users', {
    connection: 'Username-Password-Authentication',
    email: 'bcrypt@example.com',
    password_hash: (await bcryptHash(BCRYPT_PASSWORD, { cost: 4 })).replace(/^\$2b\$/, '$2y$'),
  });
  assert.equal(bcrypted.status, 201, JSON.stringify(bcrypted.body));

  const legacy = await createUser(server, 'legacy@example.com');
  const custom = encodeCustomPasswordHash({
    algorithm: 'sha1',
    hash: { value: createHash('sha1').update(`${LEGACY_PASSWORD}${LEGACY_SALT}`).digest('hex'), encoding: 'hex' },
    salt: { value: LEGACY_SALT, position: 'suffix' },
  });
  assert.ok('encoded' in custom);
  const record = (await server.ctx.storage.users.get(legacy.user_id))!;
  assert.equal(await server.ctx.storage.users.update({ ...record, passwordHash: custom.encoded }), true);

  const other = await server.management('POST', '/connections', { name: 'other-db', strategy: 'auth0' });
  assert.equal(other.status, 201, JSON.stringify(other.body));
  const elsewhere = await server.management('POST', '/users', {
    connection: 'other-db',
    email: 'elsewhere@example.com',
    password: TEST_PASSWORD,
  });
  assert.equal(elsewhere.status, 201, JSON.stringify(elsewhere.body));
});
after(async () => {
  await server.close();
  rmSync(outDir, { recursive: true, force: true });
});

test('the export with password hashes is an Auth0 import file whose hashes verify the users passwords', async () => {
  const out = join(outDir, 'users.json');
  const result = await runExport(['--with-password-hashes', '--connection', 'Username-Password-Authentication', '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /exported 3 users \(password hashes: 1 argon2, 1 bcrypt, 1 imported\)/);
  assert.equal(statSync(out).mode & 0o777, 0o600, 'password hashes are for the owner only');

  const users = JSON.parse(readFileSync(out, 'utf8')) as Array<Record<string, any>>;
  assert.ok(Array.isArray(users));
  const byEmail = new Map(users.map((u) => [u.email, u]));
  assert.deepEqual([...byEmail.keys()].sort(), ['bcrypt@example.com', 'legacy@example.com', 'native@example.com']);

  const allowed = new Set([
    'email',
    'email_verified',
    'user_id',
    'username',
    'phone_number',
    'given_name',
    'family_name',
    'name',
    'nickname',
    'picture',
    'blocked',
    'password_hash',
    'custom_password_hash',
    'app_metadata',
    'user_metadata',
  ]);
  for (const user of users) {
    for (const key of Object.keys(user)) assert.ok(allowed.has(key), `${key} is not in the import schema`);
    assert.ok(!String(user.user_id).startsWith('auth0|'), 'the importer prepends the strategy itself');
    assert.ok(!(user.password_hash && user.custom_password_hash), 'the two are mutually exclusive');
  }

  const native = byEmail.get('native@example.com')!;
  assert.equal(native.custom_password_hash.algorithm, 'argon2');
  assert.match(native.custom_password_hash.hash.value, /^\$argon2id\$/);
  assert.deepEqual(native.app_metadata, { plan: 'gold' });
  assert.deepEqual(native.user_metadata, { theme: 'dark' });
  assert.equal(native.blocked, true);
  assert.equal(native.given_name, 'Ada');

  const bcrypt = byEmail.get('bcrypt@example.com')!;
  assert.match(bcrypt.password_hash, /^\$2b\$04\$/, 'as $2b$, the label the import accepts');
  assert.equal(await verifyBcrypt(BCRYPT_PASSWORD, bcrypt.password_hash), true);

  const legacy = byEmail.get('legacy@example.com')!;
  assert.deepEqual(legacy.custom_password_hash.salt, { value: LEGACY_SALT, position: 'suffix' });

  // What an importer (latchkey's own, or Auth0's rules) makes of the exported hashes.
  for (const [email, password] of [
    ['native@example.com', TEST_PASSWORD],
    ['legacy@example.com', LEGACY_PASSWORD],
  ] as const) {
    const reimported = encodeCustomPasswordHash(byEmail.get(email)!.custom_password_hash);
    assert.ok('encoded' in reimported, JSON.stringify(reimported));
    assert.equal(await verifyPassword(password, reimported.encoded), true, email);
    assert.equal(await verifyPassword(`${password}!`, reimported.encoded), false, email);
  }
});

test('without --with-password-hashes no hash leaves, and every database connection is exported to stdout', async () => {
  const result = await runExport([]);
  assert.equal(result.status, 0, result.stderr);
  const users = JSON.parse(result.stdout) as Array<Record<string, any>>;
  assert.equal(users.length, 4);
  assert.ok(users.some((u) => u.email === 'elsewhere@example.com'));
  for (const user of users) {
    assert.equal(user.password_hash, undefined);
    assert.equal(user.custom_password_hash, undefined);
  }
});

test('an unknown connection or option is refused without leaving a file behind', async () => {
  const out = join(outDir, 'none.json');
  const missing = await runExport(['--connection', 'no-such-db', '--out', out]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /No connection named 'no-such-db'/);
  assert.equal(existsSync(out), false);

  const unknown = await runExport(['--with-hashes']);
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /Unknown option '--with-hashes'/);
});

test('an export with hashes over an existing readable file leaves it readable by its owner only', async () => {
  // A previous export (or `touch`) left the file world-readable: the mode given at creation does not apply to it.
  const out = join(outDir, 'again.json');
  writeFileSync(out, '[]', { mode: 0o644 });
  chmodSync(out, 0o644);
  const result = await runExport(['--with-password-hashes', '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.ok((JSON.parse(readFileSync(out, 'utf8')) as unknown[]).length > 0);
  assert.equal(statSync(out).mode & 0o777, 0o600, 'password hashes are for the owner only');
});
