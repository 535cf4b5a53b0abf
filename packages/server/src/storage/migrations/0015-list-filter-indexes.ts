import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * The Management API's list filters in SQL (issue 12): clients get their filtered fields as columns
 * (app_type, is_first_party), filled in from the JSON document; connections by strategy and client
 * grants by audience get indexes in list order. Client grants by client_id use the unique
 * (client_id, audience) index; resource servers by identifier their unique identifier index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.alterTable('clients').addColumn('app_type', 'text').execute();
  await db.schema.alterTable('clients').addColumn('is_first_party', 'integer').execute();
  // A client without an app type is listed under app_type '' (as the JavaScript filter read it).
  const field = (name: string) => (postgres ? sql.raw(`(data::json ->> '${name}')`) : sql.raw(`json_extract(data, '$.${name}')`));
  const firstParty = postgres
    ? sql`case when (data::json ->> 'is_first_party') = 'true' then 1 else 0 end`
    : sql`coalesce(json_extract(data, '$.is_first_party'), 0)`;
  await sql`update clients set app_type = coalesce(${field('app_type')}, ''), is_first_party = ${firstParty}`.execute(db);
  await db.schema.createIndex('clients_app_type').on('clients').columns(['app_type', 'created_at', 'client_id']).execute();
  await db.schema.createIndex('connections_strategy').on('connections').columns(['strategy', 'created_at', 'id']).execute();
  await db.schema.createIndex('client_grants_audience').on('client_grants').columns(['audience', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('client_grants_audience').execute();
  await db.schema.dropIndex('connections_strategy').execute();
  await db.schema.dropIndex('clients_app_type').execute();
  await db.schema.alterTable('clients').dropColumn('is_first_party').execute();
  await db.schema.alterTable('clients').dropColumn('app_type').execute();
}
