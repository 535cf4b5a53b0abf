import type { Kysely } from 'kysely';

/**
 * `q=email:ali*` (issue 12): the matching users are a range of email_lc, listed in creation order.
 * With (email_lc, created_at, user_id) the page's ids come from the index alone, without reading
 * each matching row's document to sort it. It also answers every lookup users_email_lc (0008) did,
 * which goes: one index less to keep up on every write.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('users_email_created').on('users').columns(['email_lc', 'created_at', 'user_id']).execute();
  await db.schema.dropIndex('users_email_lc').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('users_email_lc').on('users').column('email_lc').execute();
  await db.schema.dropIndex('users_email_created').execute();
}
