import type { Kysely } from 'kysely';

/**
 * Log streams (/api/v2/log-streams, storage/kysely/log-streams.ts). Besides the stream's settings,
 * each row holds its delivery state: `cursor` is the log_id of the last event delivered (events are
 * numbered in commit order, see 0025), `owner`/`lease_until` the node delivering it now, and
 * `failures`/`failing_since`/`retry_at` the backoff while its receiver is down. The receiver's
 * authorization header is sealed with the master key (`authorization`), never stored in clear.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('log_streams')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('sink', 'text', (c) => c.notNull())
    .addColumn('authorization', 'text')
    .addColumn('filters', 'text', (c) => c.notNull())
    .addColumn('cursor', 'text')
    .addColumn('owner', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failing_since', 'text')
    .addColumn('retry_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('log_streams').execute();
}
