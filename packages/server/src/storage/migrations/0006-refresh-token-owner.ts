import type { Kysely } from 'kysely';

/**
 * Who a refresh token belongs to, as columns: revoking a user's consent to a client revokes every
 * refresh token that client holds for the user. Tokens from before this migration have none and
 * keep their family-wide revocation only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('refresh_tokens').addColumn('user_id', 'text').execute();
  await db.schema.alterTable('refresh_tokens').addColumn('client_id', 'text').execute();
  await db.schema.createIndex('refresh_tokens_owner').on('refresh_tokens').columns(['user_id', 'client_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('refresh_tokens_owner').execute();
  await db.schema.alterTable('refresh_tokens').dropColumn('client_id').execute();
  await db.schema.alterTable('refresh_tokens').dropColumn('user_id').execute();
}
