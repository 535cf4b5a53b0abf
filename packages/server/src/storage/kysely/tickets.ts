import type { Kysely, Selectable } from 'kysely';
import type { TicketPurpose, TicketRecord } from '../../domain/ticket-types.js';
import type { Database } from '../schema.js';
import type { TicketRepository } from '../types.js';

type Row = Selectable<Database['tickets']>;

const fromRow = (row: Row): TicketRecord => ({
  purpose: row.purpose as TicketPurpose,
  userId: row.user_id,
  email: row.email,
  connection: row.connection,
  clientId: row.client_id,
  resultUrl: row.result_url,
  markEmailAsVerified: Number(row.mark_email_as_verified) === 1,
  includeEmailInRedirect: Number(row.include_email_in_redirect) === 1,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  usedAt: row.used_at,
});

export class KyselyTickets implements TicketRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(idHash: string, ticket: TicketRecord): Promise<void> {
    await this.db
      .insertInto('tickets')
      .values({
        id_hash: idHash,
        purpose: ticket.purpose,
        user_id: ticket.userId,
        email: ticket.email,
        connection: ticket.connection,
        client_id: ticket.clientId,
        result_url: ticket.resultUrl,
        mark_email_as_verified: ticket.markEmailAsVerified ? 1 : 0,
        include_email_in_redirect: ticket.includeEmailInRedirect ? 1 : 0,
        created_at: ticket.createdAt,
        expires_at: ticket.expiresAt,
        used_at: ticket.usedAt,
      })
      .execute();
  }

  async get(idHash: string): Promise<TicketRecord | undefined> {
    const row = await this.db.selectFrom('tickets').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    return row && fromRow(row);
  }

  async use(idHash: string, purpose: TicketPurpose, now: string): Promise<TicketRecord | undefined> {
    // One conditional update: of parallel uses, exactly one sees the row still unused.
    const row = await this.db
      .updateTable('tickets')
      .set({ used_at: now })
      .where('id_hash', '=', idHash)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    return row && fromRow(row);
  }

  async invalidate(userId: string, purposes: TicketPurpose[], now: string): Promise<void> {
    if (purposes.length === 0) return;
    await this.db
      .updateTable('tickets')
      .set({ used_at: now })
      .where('user_id', '=', userId)
      .where('purpose', 'in', purposes)
      .where('used_at', 'is', null)
      .execute();
  }

  async deleteAllOf(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.deleteFrom('tickets').where('user_id', 'in', userIds).execute();
  }

  async deleteExpired(now: string): Promise<void> {
    await this.db.deleteFrom('tickets').where('expires_at', '<', now).execute();
  }
}
