import { type Kysely, PostgresAdapter, sql } from 'kysely';
import type { User } from '../../domain/types.js';
import { userColumns, writeUserTerms } from '../kysely/user-columns.js';
import type { Database } from '../schema.js';
import { forEachStoredUser } from './stored-users.js';

/**
 * User search in SQL (issue 12): the searched and sorted user fields become columns with indexes,
 * and identities and metadata leaves get a term table indexed by (field, value, created_at), so
 * `user_metadata.plan:"pro"` newest first reads one index range in order. On PostgreSQL the text
 * columns use the "C" collation: prefix search is a range on the index, and code-point order is the
 * order both databases sort in. Existing users are filled in from their JSON document by the same
 * code that writes new ones.
 */
const TEXT_COLUMNS = ['name', 'nickname', 'given_name', 'family_name', 'phone_number', 'updated_at', 'last_login'];
const INTEGER_COLUMNS = ['email_verified', 'blocked', 'logins_count'];

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const text = postgres ? sql.raw('text collate "C"') : sql.raw('text');
  if (postgres) {
    // The unique (connection, email_lc / username_lc) indexes are rebuilt with the column.
    await sql`alter table users alter column email_lc type text collate "C", alter column username_lc type text collate "C"`.execute(db);
  }
  for (const column of TEXT_COLUMNS) await sql`alter table users add column ${sql.ref(column)} ${text}`.execute(db);
  for (const column of INTEGER_COLUMNS) await sql`alter table users add column ${sql.ref(column)} integer`.execute(db);
  await sql`create table user_search_terms (
    user_id text not null, field text not null, value ${text} not null, full_value text, created_at text not null
  )`.execute(db);

  const typed = db as unknown as Kysely<Database>;
  await forEachStoredUser(typed, async (row) => {
    const user = JSON.parse(row.data) as User;
    const record = { user, connection: row.connection, passwordHash: row.password_hash };
    const { data: _data, password_hash: _hash, connection: _connection, ...columns } = userColumns(record);
    await typed.updateTable('users').set(columns).where('user_id', '=', row.user_id).execute();
    await writeUserTerms(typed, user);
  });

  // After the backfill: building an index once is cheaper than keeping it up row by row.
  const index = (name: string, table: string, columns: string) =>
    sql`create index ${sql.ref(name)} on ${sql.ref(table)} (${sql.raw(columns)})`.execute(db);
  await index('user_search_terms_lookup', 'user_search_terms', 'field, value, created_at, user_id');
  await index('user_search_terms_user', 'user_search_terms', 'user_id, field, value');
  await index('users_username_lc', 'users', 'username_lc');
  for (const column of ['name', 'nickname', 'given_name', 'family_name', 'phone_number', 'updated_at', 'last_login', 'logins_count']) {
    await index(`users_${column}`, 'users', `${column}, user_id`);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('user_search_terms').execute();
  for (const name of [
    'users_username_lc',
    'users_name',
    'users_nickname',
    'users_given_name',
    'users_family_name',
    'users_phone_number',
    'users_updated_at',
    'users_last_login',
    'users_logins_count',
  ]) {
    await db.schema.dropIndex(name).execute();
  }
  for (const column of [...TEXT_COLUMNS, ...INTEGER_COLUMNS]) await db.schema.alterTable('users').dropColumn(column).execute();
}
