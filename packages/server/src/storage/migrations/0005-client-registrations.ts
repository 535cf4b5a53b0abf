import type { Kysely } from 'kysely';

/** RFC 7592: the digest of each dynamically registered client's registration access token. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('client_registrations')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('token_digest', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('client_registrations').execute();
}
