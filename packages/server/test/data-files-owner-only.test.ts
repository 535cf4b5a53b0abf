/**
 * The SQLite database holds password hashes, sealed signing keys and secret digests: like
 * master.key, it and its -wal/-shm files are readable by their owner only, and the directories
 * latchkey creates for them are 0700. (Files, so the same on either test backend.)
 */
import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MasterKey } from '../src/crypto/encryption.js';
import { defaultTenantSettings } from '../src/domain/tenant.js';
import { openSqlite } from '../src/storage/sqlite.js';

let dir: string;
const mode = (path: string) => statSync(path).mode & 0o777;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-modes-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Opens, migrates and writes, so SQLite creates its -wal and -shm files. */
async function openAndWrite(path: string) {
  const storage = openSqlite(path);
  await storage.migrate();
  await storage.tenant.create(defaultTenantSettings('modes'));
  return storage;
}

test('a new database, its -wal and -shm files are 0600, in a new directory that is 0700', async () => {
  const dataDir = join(dir, 'fresh', 'data');
  const path = join(dataDir, 'latchkey.db');
  const storage = await openAndWrite(path);
  try {
    assert.equal(mode(dataDir), 0o700);
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(mode(file), 0o600, file);
  } finally {
    await storage.close();
  }
});

test('a database an older version left world-readable is tightened at open', async () => {
  const dataDir = join(dir, 'old');
  mkdirSync(dataDir, { mode: 0o755 });
  const path = join(dataDir, 'latchkey.db');
  closeSync(openSync(path, 'w', 0o644));
  chmodSync(path, 0o644);
  const storage = await openAndWrite(path);
  try {
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(mode(file), 0o600, file);
    assert.equal(mode(dataDir), 0o755, "a directory that already existed is the operator's");
  } finally {
    await storage.close();
  }
});

test('the data directory created for master.key is 0700', () => {
  const dataDir = join(dir, 'keys', 'data');
  const { path } = MasterKey.loadOrCreate(dataDir);
  assert.equal(mode(dataDir), 0o700);
  assert.equal(mode(path), 0o600);
});
