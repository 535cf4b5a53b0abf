import type { Kysely } from 'kysely';

/**
 * Revocation of a refresh token family as one row of its own, which every use of a token reads.
 * Marking the family's token rows alone is not enough: a rotation racing the revocation may insert
 * the family's next token after the revoking UPDATE took its snapshot, and that row would stay live.
 * Families revoked before this migration keep their revoked token rows, which still refuse.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('revoked_refresh_families')
    .addColumn('family_id', 'text', (c) => c.primaryKey())
    .addColumn('revoked_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('revoked_refresh_families').execute();
}
