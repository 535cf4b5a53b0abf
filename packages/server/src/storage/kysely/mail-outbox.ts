import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { Page, PageRequest } from '../../domain/types.js';
import type { OutboxMailRecord, OutboxStatus } from '../../mail/types.js';
import type { Database } from '../schema.js';
import type { ChangePublisher, MailOutboxRepository, OutboxRefusal } from '../types.js';

type Row = Database['mail_outbox'];

const toRow = (mail: OutboxMailRecord): Row => ({
  id: mail.id,
  template: mail.template,
  status: mail.status,
  recipient_key: mail.recipientKey,
  sealed: mail.sealed,
  attempts: mail.attempts,
  next_attempt_at: mail.nextAttemptAt,
  owner: mail.owner,
  lease_until: mail.leaseUntil,
  last_error: mail.lastError,
  created_at: mail.createdAt,
  sent_at: mail.sentAt,
});

const toMail = (row: Row): OutboxMailRecord => ({
  id: row.id,
  template: row.template,
  status: row.status as OutboxStatus,
  recipientKey: row.recipient_key,
  sealed: row.sealed,
  attempts: Number(row.attempts),
  nextAttemptAt: row.next_attempt_at,
  owner: row.owner,
  leaseUntil: row.lease_until,
  lastError: row.last_error,
  createdAt: row.created_at,
  sentAt: row.sent_at,
});

/** Error texts come from SMTP servers: kept short, so a chatty server cannot grow the row. */
const MAX_ERROR_LENGTH = 1000;

export class KyselyMailOutbox implements MailOutboxRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangePublisher,
  ) {}

  async insert(mail: OutboxMailRecord, limits: { since: string; perRecipient: number; maxPending: number }): Promise<true | OutboxRefusal> {
    // A backstop, not an exact quota (the endpoints that send mail are throttled): two concurrent
    // inserts may both pass the counts, which bounds the overshoot by the number of writers.
    const recent = await this.db
      .selectFrom('mail_outbox')
      .select(sql<string | number>`count(*)`.as('n'))
      .where('recipient_key', '=', mail.recipientKey)
      .where('created_at', '>=', limits.since)
      .executeTakeFirstOrThrow();
    if (Number(recent.n) >= limits.perRecipient) return 'recipient_limit';
    // Counts at most maxPending rows, not the whole backlog.
    const pending = await this.db
      .selectFrom((eb) => eb.selectFrom('mail_outbox').select('id').where('status', '=', 'pending').limit(limits.maxPending).as('p'))
      .select(sql<string | number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    if (Number(pending.n) >= limits.maxPending) return 'outbox_full';
    await this.db.insertInto('mail_outbox').values(toRow(mail)).execute();
    await this.changes.publish('mail_outbox', mail.id);
    return true;
  }

  async get(id: string): Promise<OutboxMailRecord | undefined> {
    const row = await this.db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toMail(row);
  }

  async list(filter: { status?: OutboxStatus }, page: PageRequest & { kind: 'offset' }): Promise<Page<OutboxMailRecord>> {
    let query = this.db.selectFrom('mail_outbox').selectAll();
    let count = this.db.selectFrom('mail_outbox').select(sql<string | number>`count(*)`.as('n'));
    if (filter.status) {
      query = query.where('status', '=', filter.status);
      count = count.where('status', '=', filter.status);
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute();
    const items = rows.map(toMail);
    if (!page.includeTotal) return { items };
    return { items, total: Number((await count.executeTakeFirstOrThrow()).n) };
  }

  async countPending(): Promise<number> {
    const { n } = await this.db
      .selectFrom('mail_outbox')
      .select(sql<string | number>`count(*)`.as('n'))
      .where('status', '=', 'pending')
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  async claim(owner: string, now: string, leaseUntil: string): Promise<OutboxMailRecord | undefined> {
    const claimable = (eb: ExpressionBuilder<Database, 'mail_outbox'>) =>
      eb.and([
        eb('status', '=', 'pending'),
        eb('next_attempt_at', '<=', now),
        eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]),
      ]);
    const candidates = await this.db
      .selectFrom('mail_outbox')
      .select('id')
      .where((eb) => claimable(eb))
      .orderBy('next_attempt_at')
      .limit(5)
      .execute();
    // A few candidates; each is taken with a compare-and-set on the same condition: when two nodes race
    // for a mail, exactly one update matches (only that node sends it) and the other tries the next.
    for (const { id } of candidates) {
      const result = await this.db
        .updateTable('mail_outbox')
        .set((eb) => ({ owner, lease_until: leaseUntil, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', id)
        .where((eb) => claimable(eb))
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) return this.get(id);
    }
    return undefined;
  }

  async settle(
    id: string,
    owner: string,
    outcome:
      | { status: 'sent'; at: string }
      | { status: 'pending'; nextAttemptAt: string; error: string }
      | { status: 'failed'; error: string },
  ): Promise<boolean> {
    const changes =
      outcome.status === 'sent'
        ? { status: 'sent', sent_at: outcome.at, last_error: null }
        : outcome.status === 'pending'
          ? { status: 'pending', next_attempt_at: outcome.nextAttemptAt, last_error: outcome.error.slice(0, MAX_ERROR_LENGTH) }
          : { status: 'failed', last_error: outcome.error.slice(0, MAX_ERROR_LENGTH) };
    const result = await this.db
      .updateTable('mail_outbox')
      .set({ ...changes, owner: null, lease_until: null })
      .where('id', '=', id)
      .where('owner', '=', owner)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async requeue(id: string, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('mail_outbox')
      .set({ status: 'pending', attempts: 0, next_attempt_at: now, owner: null, lease_until: null })
      .where('id', '=', id)
      .where('status', '=', 'failed')
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await this.changes.publish('mail_outbox', id);
    return true;
  }

  async prune(bounds: { now: string; sentBefore: string; failedBefore: string; pendingBefore: string }): Promise<number> {
    await this.db
      .updateTable('mail_outbox')
      .set({ status: 'failed', last_error: 'Not delivered in time: the mail expired in the outbox.', owner: null, lease_until: null })
      .where('status', '=', 'pending')
      .where('created_at', '<', bounds.pendingBefore)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', bounds.now)]))
      .execute();
    const rows = await this.db
      .selectFrom('mail_outbox')
      .select('id')
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'sent'), eb('sent_at', '<', bounds.sentBefore)]),
          eb.and([eb('status', '=', 'failed'), eb('created_at', '<', bounds.failedBefore)]),
        ]),
      )
      .limit(1000)
      .execute();
    if (rows.length === 0) return 0;
    await this.db
      .deleteFrom('mail_outbox')
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    return rows.length;
  }
}
