import type { Kysely } from 'kysely';
import type { Session } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { SessionRepository } from '../types.js';

export class KyselySessions implements SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(idHash: string, session: Session): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id_hash: idHash,
        sid: session.sid,
        user_id: session.userId,
        auth_time: session.authTime,
        last_seen_at: session.lastSeenAt,
        expires_at: session.expiresAt,
        ended_at: session.endedAt,
        connection: session.connection ?? null,
        upstream_id_token: session.upstreamIdToken ?? null,
      })
      .execute();
  }

  async get(idHash: string): Promise<Session | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    return (
      row && {
        sid: row.sid,
        userId: row.user_id,
        authTime: row.auth_time,
        lastSeenAt: row.last_seen_at,
        expiresAt: row.expires_at,
        endedAt: row.ended_at,
        ...(row.connection !== null ? { connection: row.connection } : {}),
        ...(row.upstream_id_token !== null ? { upstreamIdToken: row.upstream_id_token } : {}),
      }
    );
  }

  async touch(idHash: string, lastSeenAt: string): Promise<void> {
    await this.db.updateTable('sessions').set({ last_seen_at: lastSeenAt }).where('id_hash', '=', idHash).execute();
  }

  async endAllOf(userId: string, endedAt: string): Promise<void> {
    await this.db.updateTable('sessions').set({ ended_at: endedAt }).where('user_id', '=', userId).where('ended_at', 'is', null).execute();
  }

  async endAllOfMany(userIds: string[], endedAt: string): Promise<void> {
    if (userIds.length === 0) return;
    await this.db
      .updateTable('sessions')
      .set({ ended_at: endedAt })
      .where('user_id', 'in', userIds)
      .where('ended_at', 'is', null)
      .execute();
  }

  async end(idHash: string, endedAt: string): Promise<void> {
    await this.db.updateTable('sessions').set({ ended_at: endedAt }).where('id_hash', '=', idHash).where('ended_at', 'is', null).execute();
  }
}
