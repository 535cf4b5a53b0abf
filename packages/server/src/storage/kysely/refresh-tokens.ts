import { type Expression, type Kysely, PostgresAdapter, type SqlBool, sql } from 'kysely';
import type { RefreshTokenRecord } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { RefreshTokenRepository } from '../types.js';

export class KyselyRefreshTokens implements RefreshTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tokenHash: string, record: RefreshTokenRecord): Promise<void> {
    await this.db
      .insertInto('refresh_tokens')
      .values({
        token_hash: tokenHash,
        family_id: record.familyId,
        sid: record.grant.sid ?? null,
        user_id: record.grant.userId,
        client_id: record.grant.clientId,
        data: JSON.stringify({ grant: record.grant, familyExpiresAt: record.familyExpiresAt }),
        created_at: record.createdAt,
        expires_at: record.expiresAt,
        rotated_at: record.rotatedAt,
        revoked_at: record.revokedAt,
      })
      .execute();
  }

  async get(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    // One statement, so the token and its family's revocation are read from one snapshot.
    const row = await this.db
      .selectFrom('refresh_tokens')
      .leftJoin('revoked_refresh_families', 'revoked_refresh_families.family_id', 'refresh_tokens.family_id')
      .selectAll('refresh_tokens')
      .select('revoked_refresh_families.revoked_at as family_revoked_at')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const data = JSON.parse(row.data) as Pick<RefreshTokenRecord, 'grant' | 'familyExpiresAt'>;
    return {
      familyId: row.family_id,
      grant: data.grant,
      familyExpiresAt: data.familyExpiresAt,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      rotatedAt: row.rotated_at,
      revokedAt: row.revoked_at ?? row.family_revoked_at,
    };
  }

  async markRotated(tokenHash: string, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('refresh_tokens')
      .set({ rotated_at: now })
      .where('token_hash', '=', tokenHash)
      .where('rotated_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async extend(tokenHash: string, expiresAt: string | null): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ expires_at: expiresAt }).where('token_hash', '=', tokenHash).execute();
  }

  /**
   * The family row first: from its commit on, every use of any token of the family is refused, one
   * inserted after this call included. Then the token rows, so that the sweep can delete them.
   */
  async revokeFamily(familyId: string, now: string): Promise<void> {
    await this.db
      .insertInto('revoked_refresh_families')
      .values({ family_id: familyId, revoked_at: now })
      .onConflict((oc) => oc.column('family_id').doNothing())
      .execute();
    await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async revokeAllOf(userId: string, clientId: string | undefined, now: string): Promise<void> {
    const owner = sql<SqlBool>`user_id = ${userId}`;
    await this.revokeWhere(clientId === undefined ? owner : sql<SqlBool>`${owner} and client_id = ${clientId}`, now);
  }

  async revokeAllOfMany(userIds: string[], now: string): Promise<void> {
    if (userIds.length === 0) return;
    await this.revokeWhere(sql<SqlBool>`user_id in (${sql.join(userIds)})`, now);
  }

  async revokeAllFor(clientId: string, now: string): Promise<void> {
    await this.revokeWhere(sql<SqlBool>`client_id = ${clientId}`, now);
  }

  async revokeAllForAudience(audience: string, now: string): Promise<void> {
    // The audience is only in the JSON document: a scan, run when an API is deleted.
    const postgres = this.db.getExecutor().adapter instanceof PostgresAdapter;
    const stored = postgres ? sql`(data::json #>> '{grant,audience}')` : sql`json_extract(data, '$.grant.audience')`;
    await this.revokeWhere(sql<SqlBool>`${stored} = ${audience}`, now);
  }

  /** Revokes the live tokens matching `condition`, whole families, as in revokeAllOf. */
  private async revokeWhere(condition: Expression<SqlBool>, now: string): Promise<void> {
    const families = this.db
      .selectFrom('refresh_tokens')
      .select(['family_id', sql.lit(now).as('revoked_at')])
      .distinct()
      .where(condition)
      .where('revoked_at', 'is', null);
    await this.db
      .insertInto('revoked_refresh_families')
      .columns(['family_id', 'revoked_at'])
      .expression(families)
      .onConflict((oc) => oc.column('family_id').doNothing())
      .execute();
    await this.db.updateTable('refresh_tokens').set({ revoked_at: now }).where(condition).where('revoked_at', 'is', null).execute();
  }
}
