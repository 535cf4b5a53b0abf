import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * A password change signs the user out everywhere, so everything a user holds must be findable by
 * user: opaque /userinfo tokens get an owner column, and refresh tokens from before 0006 get theirs
 * filled in from their stored grant (both from the JSON document each row already keeps).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('opaque_access_tokens').addColumn('user_id', 'text').execute();
  await db.schema.createIndex('opaque_access_tokens_user').on('opaque_access_tokens').column('user_id').execute();
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const field = (path: string[]) =>
    postgres ? sql.raw(`(data::json #>> '{${path.join(',')}}')`) : sql.raw(`json_extract(data, '$.${path.join('.')}')`);
  await sql`update opaque_access_tokens set user_id = ${field(['userId'])} where user_id is null`.execute(db);
  await sql`update refresh_tokens set user_id = ${field(['grant', 'userId'])}, client_id = ${field(['grant', 'clientId'])}
    where user_id is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('opaque_access_tokens_user').execute();
  await db.schema.alterTable('opaque_access_tokens').dropColumn('user_id').execute();
}
