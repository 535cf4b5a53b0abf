import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * Auth0 Actions (/api/v2/actions): each action's draft, its immutable numbered versions, and the
 * ordered bindings of each trigger. Looked-up columns are real; the rest is the JSON `data` document.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('actions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Bindings by `action_name` compare exactly: code-point order and equality on both databases.
    .addColumn('name', postgres ? sql`text collate "C"` : 'text', (c) => c.notNull())
    .addColumn('trigger_id', 'text', (c) => c.notNull())
    .addColumn('deployed_version_id', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // Names are unique, as in Auth0 (409), so that a binding by name is unambiguous.
  await db.schema.createIndex('actions_name').on('actions').column('name').unique().execute();
  await db.schema.createIndex('actions_trigger').on('actions').columns(['trigger_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('action_versions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('action_id', 'text', (c) => c.notNull())
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // Two deploys racing for one number: the second insert fails here and retries with the next.
  await db.schema.createIndex('action_versions_number').on('action_versions').columns(['action_id', 'number']).unique().execute();

  await db.schema
    .createTable('action_bindings')
    .addColumn('trigger_id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('action_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('action_bindings_pk', ['trigger_id', 'position'])
    .execute();
  // Deleting an action finds its bindings by this.
  await db.schema.createIndex('action_bindings_action').on('action_bindings').column('action_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('action_bindings').execute();
  await db.schema.dropTable('action_versions').execute();
  await db.schema.dropTable('actions').execute();
}
