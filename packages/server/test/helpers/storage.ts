import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
