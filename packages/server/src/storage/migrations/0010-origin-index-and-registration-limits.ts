import { type Kysely, sql } from 'kysely';
import type { Client } from '../../domain/types.js';
import { browserOriginsOf } from '../../oauth/browser-origins.js';

const BATCH = 500;

/**
 * CORS without scanning every client: each client's browser origins as rows, looked up by origin
 * (the primary key's first column). A counter of dynamically registered clients, so the cap on them
 * is one row update; and shared fixed-window counters, so a rate limit holds across nodes.
 * Existing clients' origins and registrations are carried over.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration runs on the schema as it was, which no current type describes.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('client_origins')
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('client_origins_pk', ['origin', 'client_id'])
    .execute();
  await db.schema.createIndex('client_origins_client').on('client_origins').column('client_id').execute();
  await db.schema
    .createTable('counters')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('rate_limit_windows')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('window_started_at', 'text', (c) => c.notNull())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .execute();

  let registered = 0;
  let after = '';
  for (;;) {
    const rows: Array<{ client_id: string; data: string }> = await db
      .selectFrom('clients')
      .select(['client_id', 'data'])
      .where('client_id', '>', after)
      .orderBy('client_id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    const origins: Array<{ origin: string; client_id: string }> = [];
    for (const row of rows) {
      const client = JSON.parse(row.data) as Client;
      if (client.registration_source === 'dynamic_registration') registered++;
      for (const origin of browserOriginsOf(client)) origins.push({ origin, client_id: row.client_id });
    }
    // 500 clients may list up to 100 URLs each: insert in slices under both databases' parameter limits.
    for (let i = 0; i < origins.length; i += BATCH)
      await db
        .insertInto('client_origins')
        .values(origins.slice(i, i + BATCH))
        .execute();
    after = rows[rows.length - 1]!.client_id;
  }
  await db
    .insertInto('counters')
    .values({ name: 'registered_clients', value: sql`${registered}` })
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rate_limit_windows').execute();
  await db.schema.dropTable('counters').execute();
  await db.schema.dropTable('client_origins').execute();
}
