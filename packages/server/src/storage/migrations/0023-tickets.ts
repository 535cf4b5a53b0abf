import type { Kysely } from 'kysely';

/**
 * One-time links sent by email (issue 15): password reset, email verification, account unblock.
 * Only a digest of the ticket is stored, so a copy of the database opens no account; `used_at` is
 * set by a compare-and-set (storage/kysely/tickets.ts), so a ticket works once however many use it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tickets')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('connection', 'text')
    .addColumn('client_id', 'text')
    .addColumn('result_url', 'text')
    .addColumn('mark_email_as_verified', 'integer', (c) => c.notNull())
    .addColumn('include_email_in_redirect', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  // Invalidation by user and purpose (a password or email change), and the sweep by expiry.
  await db.schema.createIndex('tickets_user_purpose').on('tickets').columns(['user_id', 'purpose']).execute();
  await db.schema.createIndex('tickets_expires').on('tickets').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tickets').execute();
}
