import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * Bulk user import and export jobs (issue 13). Everything a job needs lives here, not on a node's
 * disk or in its memory, so any node can run it and a restart resumes it:
 * - `jobs`: one row per job; `owner`/`lease_until` are the claim (a compare-and-set, see
 *   storage/kysely/jobs.ts), `cursor` the next unit of work, committed with that unit's effects.
 * - `job_chunks`: the uploaded users, parsed, a few hundred per row, deleted once the job ends.
 * - `job_errors`: the users that failed, with why (Auth0's per-user error array).
 * - `job_file_parts`: an export's gzip file, one gzip member per page, until the job expires.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('cursor', 'integer', (c) => c.notNull())
    .addColumn('owner', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('jobs_status').on('jobs').columns(['status', 'created_at']).execute();
  await db.schema.createIndex('jobs_expires').on('jobs').column('expires_at').execute();
  await db.schema
    .createTable('job_chunks')
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_chunks_pk', ['job_id', 'seq'])
    .execute();
  await db.schema
    .createTable('job_errors')
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_errors_pk', ['job_id', 'seq'])
    .execute();
  await db.schema
    .createTable('job_file_parts')
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', postgres ? sql`bytea` : sql`blob`, (c) => c.notNull())
    .addPrimaryKeyConstraint('job_file_parts_pk', ['job_id', 'seq'])
    .execute();
  // Exports page through one connection's users in user_id order (users.listRecordsAfter): without
  // this index each page sorted the whole connection (a 100,000-user export took 38 s instead of 4).
  await db.schema.createIndex('users_connection_user_id').on('users').columns(['connection', 'user_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('users_connection_user_id').execute();
  for (const table of ['job_file_parts', 'job_errors', 'job_chunks', 'jobs']) await db.schema.dropTable(table).execute();
}
