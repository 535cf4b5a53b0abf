import type { Kysely } from 'kysely';

/**
 * Login transactions are started by anonymous requests, so each records where it came from (a
 * digest of the client's address, never the address itself): one address may hold only so many
 * pending sign-ins, and the ones closest to expiry go first.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('login_transactions').addColumn('source', 'text').execute();
  await db.schema.createIndex('login_transactions_source').on('login_transactions').columns(['source', 'expires_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('login_transactions_source').execute();
  await db.schema.alterTable('login_transactions').dropColumn('source').execute();
}
