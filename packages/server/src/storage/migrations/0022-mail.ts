import type { Kysely } from 'kysely';

/**
 * Mail (issue 15):
 * - `email_provider`: Auth0's one email provider per tenant (one row, id 'default'); the SMTP password
 *   inside `data` is sealed with the master key.
 * - `email_templates`: the templates the Management API stored, one row per Auth0 template name.
 * - `mail_outbox`: every mail, written in the transaction of what it announces, then delivered in the
 *   background by whichever node claims it (`owner`/`lease_until`, a compare-and-set as for jobs).
 *   The content is sealed (it carries one-time links); `recipient_key` is a keyed digest of the address.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('email_provider')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('email_templates')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('recipient_key', 'text', (c) => c.notNull())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('owner', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .execute();
  // Delivery looks for due pending mails; the backstop counts a recipient's recent mails; the
  // Management API lists newest first; the sweep deletes by age.
  await db.schema.createIndex('mail_outbox_due').on('mail_outbox').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('mail_outbox_recipient').on('mail_outbox').columns(['recipient_key', 'created_at']).execute();
  await db.schema.createIndex('mail_outbox_created').on('mail_outbox').columns(['created_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['mail_outbox', 'email_templates', 'email_provider']) await db.schema.dropTable(table).execute();
}
