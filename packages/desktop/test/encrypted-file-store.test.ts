import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type SafeStorageLike, safeStorageCipher } from '../src/adapters/electron.js';
import { encryptedFileStore, passphraseCipher } from '../src/adapters/node.js';
import { KeychainUnavailable, StorageFailed } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-file-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SESSION = '{"v":1,"refreshToken":"v1.MRrt-super-secret-refresh-token"}';

test('passphrase: round trip, owner-only file in a private directory, no token bytes in clear', async () => {
  const path = join(dir, 'nested', 'session.bin');
  const store = encryptedFileStore({ path, cipher: passphraseCipher('correct horse battery staple') });
  assert.equal(await store.load(), null, 'nothing stored yet');
  await store.save(SESSION);
  assert.equal(await store.load(), SESSION);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'nested')).mode & 0o777, 0o700);
  assert.ok(!readFileSync(path).includes('super-secret'));
  // A new process (new cipher instance) with the same passphrase reads it.
  assert.equal(await encryptedFileStore({ path, cipher: passphraseCipher('correct horse battery staple') }).load(), SESSION);
  await store.clear();
  assert.equal(await store.load(), null);
  await store.clear();
});

test('a wrong passphrase or a damaged file is a StorageFailed error, never garbage', async () => {
  const path = join(dir, 'session.bin');
  await encryptedFileStore({ path, cipher: passphraseCipher('correct horse battery staple') }).save(SESSION);
  await assert.rejects(encryptedFileStore({ path, cipher: passphraseCipher('wrong passphrase!') }).load(), StorageFailed);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1]! ^= 1;
  writeFileSync(path, bytes);
  await assert.rejects(encryptedFileStore({ path, cipher: passphraseCipher('correct horse battery staple') }).load(), StorageFailed);
  assert.throws(() => passphraseCipher('short'), TypeError);
});

/** Stands in for Electron's safeStorage: reversible, but not the identity, so a bypass would show. */
function fakeSafeStorage(backend = 'gnome_libsecret', available = true): SafeStorageLike & { calls: number } {
  const fake = {
    calls: 0,
    isEncryptionAvailable: () => available,
    getSelectedStorageBackend: () => backend,
    encryptString(plainText: string) {
      fake.calls += 1;
      return Buffer.from(`enc:${Buffer.from(plainText).toString('base64')}`);
    },
    decryptString(encrypted: Buffer) {
      fake.calls += 1;
      return Buffer.from(encrypted.toString().replace(/^enc:/, ''), 'base64').toString();
    },
  };
  return fake;
}

test('Electron safeStorage as the cipher: values go through it both ways', async () => {
  const safeStorage = fakeSafeStorage();
  const store = encryptedFileStore({ path: join(dir, 'electron.bin'), cipher: safeStorageCipher(safeStorage) });
  await store.save(SESSION);
  assert.equal(await store.load(), SESSION);
  assert.equal(safeStorage.calls, 2);
  assert.ok(!readFileSync(join(dir, 'electron.bin')).includes('super-secret'));
});

test('safeStorage without an OS secret store (Linux basic_text) or not ready is refused: it would be plain text in disguise', async () => {
  const weak = encryptedFileStore({ path: join(dir, 'weak.bin'), cipher: safeStorageCipher(fakeSafeStorage('basic_text')) });
  await assert.rejects(weak.save(SESSION), (error: unknown) => error instanceof KeychainUnavailable && /basic_text/.test(error.message));
  const unavailable = encryptedFileStore({
    path: join(dir, 'weak.bin'),
    cipher: safeStorageCipher(fakeSafeStorage('gnome_libsecret', false)),
  });
  await assert.rejects(unavailable.save(SESSION), KeychainUnavailable);
  assert.throws(() => statSync(join(dir, 'weak.bin')), /ENOENT/, 'nothing was written');
});
