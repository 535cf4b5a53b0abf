import type { Kysely } from 'kysely';
import type { OpaqueAccessTokenData } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { OpaqueAccessTokenRepository } from '../types.js';

export class KyselyOpaqueAccessTokens implements OpaqueAccessTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tokenHash: string, data: OpaqueAccessTokenData): Promise<void> {
    await this.db
      .insertInto('opaque_access_tokens')
      .values({ token_hash: tokenHash, user_id: data.userId, data: JSON.stringify(data), expires_at: data.expiresAt })
      .execute();
  }

  async get(tokenHash: string): Promise<OpaqueAccessTokenData | undefined> {
    const row = await this.db.selectFrom('opaque_access_tokens').select('data').where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && (JSON.parse(row.data) as OpaqueAccessTokenData);
  }

  async deleteAllOf(userId: string): Promise<void> {
    await this.db.deleteFrom('opaque_access_tokens').where('user_id', '=', userId).execute();
  }

  async deleteAllOfMany(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.deleteFrom('opaque_access_tokens').where('user_id', 'in', userIds).execute();
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('opaque_access_tokens').where('token_hash', '=', tokenHash).execute();
  }
}
