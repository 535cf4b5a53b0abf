import type { Kysely } from 'kysely';

/**
 * A replayed code revokes the opaque /userinfo token it issued, not only its refresh tokens, and is
 * marked, so that a replay racing the first redemption is caught once that has recorded its tokens; a
 * session remembers the upstream connection it came through, and that provider's id_token (sealed),
 * so `federated` logout can end the provider's session too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('authorization_codes').addColumn('access_token_hash', 'text').execute();
  await db.schema.alterTable('authorization_codes').addColumn('replayed_at', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('connection', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('upstream_id_token', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('upstream_id_token').execute();
  await db.schema.alterTable('sessions').dropColumn('connection').execute();
  await db.schema.alterTable('authorization_codes').dropColumn('replayed_at').execute();
  await db.schema.alterTable('authorization_codes').dropColumn('access_token_hash').execute();
}
