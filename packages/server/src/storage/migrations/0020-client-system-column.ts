import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * The bootstrap admin clients as a column, so the Management API's `is_global` filter runs in SQL
 * with exact totals: Auth0's tools (auth0-deploy-cli) list clients with `is_global=false` to leave
 * the tenant's own client out, and with `is_global=true` to find it, and check the totals they get.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.alterTable('clients').addColumn('is_system', 'integer').execute();
  const system = postgres
    ? sql`case when (data::json ->> 'is_system') = 'true' then 1 else 0 end`
    : sql`coalesce(json_extract(data, '$.is_system'), 0)`;
  await sql`update clients set is_system = ${system}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('clients').dropColumn('is_system').execute();
}
