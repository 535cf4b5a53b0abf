import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * RBAC roles (Auth0's /api/v2/roles): a role names a set of API permissions, and a user holds the
 * permissions of every role assigned to it besides its direct ones (0008).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Roles are listed by name: in code-point order on both databases, as the user search columns (0014).
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('roles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', postgres ? sql`text collate "C"` : 'text', (c) => c.notNull())
    // name_filter compares case-insensitively: kept folded so the filter needs no per-row lower().
    .addColumn('name_lc', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // Names are unique, as in Auth0 (409 on a taken name); the index also serves the list, ordered by name.
  await db.schema.createIndex('roles_name').on('roles').column('name').unique().execute();

  await db.schema
    .createTable('role_permissions')
    .addColumn('role_id', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('permission', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('role_permissions_pk', ['role_id', 'audience', 'permission'])
    .execute();
  // Deleting an API, or a scope of it, removes the permissions naming it from every role.
  await db.schema.createIndex('role_permissions_audience').on('role_permissions').columns(['audience', 'permission']).execute();

  await db.schema
    .createTable('user_roles')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('role_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    // The user's roles (token issue, GET /users/{id}/roles) come from the primary key...
    .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role_id'])
    .execute();
  // ...and a role's members, in assignment order for checkpoint paging, from this one.
  await db.schema.createIndex('user_roles_role').on('user_roles').columns(['role_id', 'created_at', 'user_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('user_roles').execute();
  await db.schema.dropTable('role_permissions').execute();
  await db.schema.dropTable('roles').execute();
}
