import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { LocalChangeFeed } from './change-feed.js';
import { KyselyStorage } from './kysely/index.js';
import type { Database } from './schema.js';

/**
 * SQLite is the embedded, single-node default. Another process may still write to the file (the
 * `latchkey keys rotate` CLI does), so the feed watches `PRAGMA data_version`, which changes only
 * when a different connection commits, and then drops every cached lookup.
 */
export function openSqlite(path: string, pollMs = 1000): KyselyStorage {
  if (path !== ':memory:') createOwnerOnly(path);
  const raw = new BetterSqlite3(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');

  const feed = new LocalChangeFeed();
  let version = raw.pragma('data_version', { simple: true });
  const timer = setInterval(() => {
    const current = raw.pragma('data_version', { simple: true });
    if (current !== version) {
      version = current;
      feed.emit('*', '');
    }
  }, pollMs);
  timer.unref();

  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(raw) }) });
  return new KyselyStorage(db, 'sqlite', feed, async () => clearInterval(timer));
}

/**
 * The database holds password hashes, sealed signing keys and client-secret digests: only its
 * owner may read it. Directories latchkey creates are 0700; the file is created 0600 before SQLite
 * opens it, and SQLite gives its -wal and -shm files the database file's mode. A file an older
 * version left readable to others is tightened too (a directory that already existed is the
 * operator's and is left alone).
 */
function createOwnerOnly(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // Absent (-wal/-shm before the first write) or owned by someone else: nothing to tighten.
    }
  }
}

/** Distinct SQL texts are few (a few dozen queries), so this bound is never reached in practice. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query anew; compiling the same SQL again costs more than running it on the
 * hot paths. Statements are reused by their text (SQLite re-prepares them itself after a schema
 * change). Kysely only runs them to completion (all/run), never as open iterators, so sharing is safe.
 */
function cachingStatements(raw: BetterSqlite3.Database): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = raw.prepare.bind(raw);
  raw.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      statement = prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  }) as typeof raw.prepare;
  return raw;
}
