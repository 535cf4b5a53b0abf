import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * Tenant log events (GET /api/v2/logs). `seq` is assigned at insert, and inserts are serialised (see
 * storage/kysely/log-events.ts), so it grows in commit order on every node: a reader that has seen up
 * to some `seq` never later finds a smaller one, which is what checkpoint paging (and a log stream's
 * cursor) needs. The searched fields are columns; the rest of the event is in `details`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  let table = db.schema.createTable('log_events');
  table = postgres
    ? table.addColumn('seq', 'bigserial', (c) => c.primaryKey())
    : table.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement());
  // Exact comparisons on both databases: code-point order, no locale.
  const text = postgres ? sql`text collate "C"` : 'text';
  await table
    .addColumn('date', 'text', (c) => c.notNull())
    .addColumn('type', text, (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('client_id', text)
    .addColumn('client_name', text)
    .addColumn('connection', text)
    .addColumn('connection_id', text)
    .addColumn('user_id', text)
    .addColumn('user_name', text)
    .addColumn('ip', text)
    .addColumn('user_agent', 'text')
    .addColumn('hostname', text)
    .addColumn('audience', text)
    .addColumn('scope', 'text')
    .addColumn('strategy', text)
    .addColumn('strategy_type', text)
    .addColumn('details', 'text')
    .execute();
  await db.schema.createIndex('log_events_date').on('log_events').columns(['date', 'seq']).execute();
  await db.schema.createIndex('log_events_user').on('log_events').columns(['user_id', 'date', 'seq']).execute();
  await db.schema.createIndex('log_events_type').on('log_events').columns(['type', 'date', 'seq']).execute();
  await db.schema.createIndex('log_events_client').on('log_events').columns(['client_id', 'date', 'seq']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('log_events').execute();
}
