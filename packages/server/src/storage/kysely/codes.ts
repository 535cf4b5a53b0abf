import type { Kysely } from 'kysely';
import type { AuthorizationCodeData, AuthorizationCodeRecord } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { AuthorizationCodeRepository } from '../types.js';

export class KyselyAuthorizationCodes implements AuthorizationCodeRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(codeHash: string, data: AuthorizationCodeData, expiresAt: string): Promise<void> {
    await this.db
      .insertInto('authorization_codes')
      .values({ code_hash: codeHash, data: JSON.stringify(data), expires_at: expiresAt, consumed_at: null, family_id: null })
      .execute();
  }

  async get(codeHash: string): Promise<AuthorizationCodeRecord | undefined> {
    const row = await this.db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
    return (
      row && {
        data: JSON.parse(row.data) as AuthorizationCodeData,
        expiresAt: row.expires_at,
        consumedAt: row.consumed_at,
        familyId: row.family_id,
        accessTokenHash: row.access_token_hash,
        replayedAt: row.replayed_at,
      }
    );
  }

  async claim(codeHash: string, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('authorization_codes')
      .set({ consumed_at: now })
      .where('code_hash', '=', codeHash)
      .where('consumed_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async markReplayed(codeHash: string, now: string): Promise<void> {
    await this.db
      .updateTable('authorization_codes')
      .set({ replayed_at: now })
      .where('code_hash', '=', codeHash)
      .where('replayed_at', 'is', null)
      .execute();
  }

  async recordTokens(codeHash: string, issued: { familyId?: string; accessTokenHash?: string }): Promise<void> {
    await this.db
      .updateTable('authorization_codes')
      .set({ family_id: issued.familyId ?? null, access_token_hash: issued.accessTokenHash ?? null })
      .where('code_hash', '=', codeHash)
      .execute();
  }
}
