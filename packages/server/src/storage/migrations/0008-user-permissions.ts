import type { Kysely } from 'kysely';

/**
 * RBAC: the API permissions assigned to each user directly (Auth0's users/{id}/permissions). Also
 * an index for users-by-email, which looks a user up by email across connections.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('user_permissions')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('permission', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_permissions_pk', ['user_id', 'audience', 'permission'])
    .execute();
  await db.schema.createIndex('user_permissions_audience').on('user_permissions').column('audience').execute();
  await db.schema.createIndex('users_email_lc').on('users').column('email_lc').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('users_email_lc').execute();
  await db.schema.dropTable('user_permissions').execute();
}
