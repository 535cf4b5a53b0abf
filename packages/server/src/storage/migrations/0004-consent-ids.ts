import type { Kysely } from 'kysely';

/** Consents get an id, so the Management API can list and revoke them one by one (`/grants/{id}`). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('consents').addColumn('id', 'text').execute();
  await db.schema.createIndex('consents_id').on('consents').column('id').unique().execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('consents_id').execute();
  await db.schema.alterTable('consents').dropColumn('id').execute();
}
