import type { Kysely, Transaction } from 'kysely';
import type { User, UserRecord } from '../../domain/types.js';
import type { Database } from '../schema.js';
import { atomically } from './shared.js';

/**
 * The user fields that are searched, sorted or unique, as columns next to the JSON document (which
 * stays the one that is read back). Emails and usernames are kept lower-cased: they match
 * case-insensitively, and the per-connection unique indexes hold on the folded value; so are
 * names and nicknames, which Auth0's search also matches case-insensitively.
 */
export function userColumns(record: UserRecord) {
  const { user } = record;
  return {
    connection: record.connection,
    email_lc: user.email?.toLowerCase() ?? null,
    username_lc: user.username?.toLowerCase() ?? null,
    // Folded like emails: Auth0 searches these normalized fields case-insensitively (FOLDED_FIELDS).
    name: user.name?.toLowerCase() ?? null,
    nickname: user.nickname?.toLowerCase() ?? null,
    given_name: user.given_name?.toLowerCase() ?? null,
    family_name: user.family_name?.toLowerCase() ?? null,
    phone_number: user.phone_number ?? null,
    email_verified: user.email_verified ? 1 : 0,
    blocked: user.blocked ? 1 : 0,
    updated_at: user.updated_at,
    last_login: user.last_login ?? null,
    logins_count: user.logins_count,
    password_hash: record.passwordHash,
    data: JSON.stringify(user),
  };
}

/**
 * Longest value kept in the term index, in code points. PostgreSQL refuses a btree entry over about
 * 2700 bytes; a longer value is indexed by its first characters and kept whole in `full_value`.
 */
export const TERM_VALUE_LENGTH = 200;

export interface UserSearchTermRow {
  field: string;
  value: string;
  full_value: string | null;
}

/** The indexed form of a searched text: its first TERM_VALUE_LENGTH code points, and the whole text when cut. */
export function termValue(text: string): { value: string; full_value: string | null } {
  const chars = [...text];
  if (chars.length <= TERM_VALUE_LENGTH) return { value: text, full_value: null };
  return { value: chars.slice(0, TERM_VALUE_LENGTH).join(''), full_value: text };
}

/**
 * Every value a multi-valued or open-ended field holds, one row each: `identities.*` per identity and
 * each leaf of app_metadata/user_metadata under its dotted path, an array's elements under the
 * array's path. This is what `field:value` reads in JavaScript (domain/user-search.ts): values are
 * compared as String(value); null and objects never match; a key with a dot cannot be named in `q`.
 */
export function userSearchTerms(user: User): UserSearchTermRow[] {
  const rows = new Map<string, UserSearchTermRow>();
  const add = (field: string, value: unknown) => {
    if (value === null || value === undefined || (typeof value === 'object' && !Array.isArray(value))) return;
    const row = { field, ...termValue(String(value)) };
    rows.set(JSON.stringify([field, row.full_value ?? row.value]), row);
  };
  for (const identity of user.identities) {
    add('identities.connection', identity.connection);
    add('identities.provider', identity.provider);
    add('identities.user_id', identity.user_id);
  }
  const walk = (path: string, value: unknown) => {
    if (Array.isArray(value)) {
      for (const element of value) add(path, element);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) if (key !== '' && !key.includes('.')) walk(`${path}.${key}`, child);
    } else {
      add(path, value);
    }
  };
  for (const root of ['app_metadata', 'user_metadata'] as const) {
    for (const [key, child] of Object.entries(user[root] ?? {})) if (key !== '' && !key.includes('.')) walk(`${root}.${key}`, child);
  }
  return [...rows.values()];
}

/** Replaces a user's term rows; in the transaction that writes the user row, so search never sees them apart. */
export async function writeUserTerms(db: Kysely<Database> | Transaction<Database>, user: User): Promise<void> {
  await db.deleteFrom('user_search_terms').where('user_id', '=', user.user_id).execute();
  const rows = userSearchTerms(user).map((row) => ({ user_id: user.user_id, created_at: user.created_at, ...row }));
  // Bounded chunks: SQLite allows 32766 bound values per statement.
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto('user_search_terms')
      .values(rows.slice(i, i + 500))
      .execute();
}

export async function insertUserRow(db: Kysely<Database>, record: UserRecord): Promise<void> {
  await atomically(db, async (trx) => {
    const row = { user_id: record.user.user_id, created_at: record.user.created_at, ...userColumns(record) };
    await trx.insertInto('users').values(row).execute();
    await writeUserTerms(trx, record.user);
  });
}

/** Resolves whether a row was written (false: no such user, or its password hash was no longer `ifPasswordHash`). */
export async function updateUserRow(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  record: UserRecord,
  ifPasswordHash?: string | null,
): Promise<boolean> {
  return atomically(db, async (trx) => {
    const columns = userColumns(record);
    let read = trx
      .selectFrom('users')
      .select(Object.keys(columns) as Array<keyof typeof columns>)
      .where('user_id', '=', record.user.user_id);
    // Locked until the update: a concurrent writer's columns must not mix with this record's document.
    // (SQLite runs one write transaction at a time.)
    if (dialect === 'postgres') read = read.forUpdate();
    const current = await read.executeTakeFirst();
    if (!current) return false;
    // Only the columns that change: SQLite rewrites the entries of every index whose columns an
    // UPDATE names, and a sign-in (logins_count, last_login) would otherwise touch all sixteen.
    const changed = Object.fromEntries(
      Object.entries(columns).filter(([name, value]) => current[name as keyof typeof columns] !== value),
    ) as Partial<typeof columns>;
    // Kept in the SET even when equal, so the compare-and-set below still decides the row.
    let query = trx
      .updateTable('users')
      .set({ ...changed, data: columns.data })
      .where('user_id', '=', record.user.user_id);
    if (ifPasswordHash !== undefined) {
      query = ifPasswordHash === null ? query.where('password_hash', 'is', null) : query.where('password_hash', '=', ifPasswordHash);
    }
    const result = await query.executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    // Most updates (every sign-in counts a login) leave identities and metadata alone: reading the
    // terms from their index costs less than rewriting them.
    const key = (row: UserSearchTermRow) => JSON.stringify([row.field, row.value, row.full_value]);
    const stored = await trx
      .selectFrom('user_search_terms')
      .select(['field', 'value', 'full_value'])
      .where('user_id', '=', record.user.user_id)
      .execute();
    const wanted = userSearchTerms(record.user);
    const same = stored.length === wanted.length && new Set(stored.map(key)).size === new Set([...stored, ...wanted].map(key)).size;
    if (!same) await writeUserTerms(trx, record.user);
    return true;
  });
}

/** Bound values per statement: SQLite allows 32766 (PostgreSQL 65535), and Kysely binds every value. */
const MAX_BOUND_VALUES = 32_766;

/** Rows per multi-row INSERT of `columns` columns, under the bound-value limit of both databases. */
function rowsPerStatement(columns: number): number {
  return Math.min(2000, Math.floor(MAX_BOUND_VALUES / columns));
}

/**
 * The bulk form of insertUserRow: multi-row INSERTs that skip a row taken by any unique index
 * (`on conflict do nothing`, so a concurrent writer makes no error either), then the term rows of
 * the users written. Resolves whether each record was written, by position.
 */
export async function insertUserRows(db: Kysely<Database>, records: UserRecord[]): Promise<boolean[]> {
  return atomically(db, async (trx) => {
    const written = records.map(() => false);
    // A user_id twice in `records`: only its first record is sent, so a returned id names one record.
    const firstOf = new Map<string, number>();
    records.forEach((record, index) => {
      if (!firstOf.has(record.user.user_id)) firstOf.set(record.user.user_id, index);
    });
    const sent = [...firstOf.values()];
    const userRows = sent.map((index) => {
      const record = records[index]!;
      return { user_id: record.user.user_id, created_at: record.user.created_at, ...userColumns(record) };
    });
    const userChunk = rowsPerStatement(Object.keys(userRows[0] ?? { user_id: '' }).length);
    for (let i = 0; i < userRows.length; i += userChunk) {
      const rows = await trx
        .insertInto('users')
        .values(userRows.slice(i, i + userChunk))
        .onConflict((oc) => oc.doNothing())
        .returning('user_id')
        .execute();
      for (const row of rows) written[firstOf.get(row.user_id)!] = true;
    }
    const termRows = records.flatMap((record, index) =>
      written[index]
        ? userSearchTerms(record.user).map((row) => ({ user_id: record.user.user_id, created_at: record.user.created_at, ...row }))
        : [],
    );
    const termChunk = rowsPerStatement(5);
    for (let i = 0; i < termRows.length; i += termChunk) {
      await trx
        .insertInto('user_search_terms')
        .values(termRows.slice(i, i + termChunk))
        .execute();
    }
    return written;
  });
}
