import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/types.js';
import { backend } from './server.js';

const postgresUrl = process.env.LATCHKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  open(): Promise<Storage>;
  drop(): Promise<void>;
}

/** A fresh, empty database of the backend under test (a SQLite file or a PostgreSQL schema). */
export function testDatabase(): TestDatabase {
  if (backend === 'postgres') {
    const schema = `lk_test_${randomBytes(6).toString('hex')}`;
    const url = `${postgresUrl}?schema=${schema}`;
    return {
      url,
      open: () => openStorage(url),
      drop: async () => {
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-storage-'));
  const url = `sqlite:${join(dir, 'latchkey.db')}`;
  return { url, open: () => openStorage(url), drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * For a suite of storage tests: one fresh, migrated database opened twice (two connection pools, as
 * two nodes hold), closed and dropped after the suite. Call it inside `describe`; read the storages
 * from the result once the suite's `before` hooks have run.
 */
export function twoNodesOnOneDatabase(): { readonly storage: Storage; readonly other: Storage } {
  let database: TestDatabase | undefined;
  const nodes: { storage?: Storage; other?: Storage } = {};
  before(async () => {
    database = testDatabase();
    nodes.storage = await database.open();
    await nodes.storage.migrate();
    nodes.other = await database.open();
  });
  after(async () => {
    await nodes.other?.close();
    await nodes.storage?.close();
    await database?.drop();
  });
  return {
    get storage() {
      if (!nodes.storage) throw new Error('twoNodesOnOneDatabase: read the storages in tests, after the before hooks');
      return nodes.storage;
    },
    get other() {
      if (!nodes.other) throw new Error('twoNodesOnOneDatabase: read the storages in tests, after the before hooks');
      return nodes.other;
    },
  };
}
