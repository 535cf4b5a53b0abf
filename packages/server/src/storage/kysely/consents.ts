import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ConsentRecord } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { ConsentRepository } from '../types.js';

/** Deterministic, so re-consenting keeps the id; hashed, so it does not spell out the user. */
const consentId = (userId: string, clientId: string, audience: string) =>
  `cgt_${createHash('sha256').update(`${userId}\n${clientId}\n${audience}`).digest('base64url').slice(0, 22)}`;

function consentFromRow(row: {
  id: string | null;
  user_id: string;
  client_id: string;
  audience: string;
  scope: string;
  updated_at: string;
}): ConsentRecord {
  return {
    id: row.id ?? consentId(row.user_id, row.client_id, row.audience),
    userId: row.user_id,
    clientId: row.client_id,
    audience: row.audience,
    scope: JSON.parse(row.scope) as string[],
    updatedAt: row.updated_at,
  };
}

export class KyselyConsents implements ConsentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(userId: string, clientId: string, audience: string): Promise<ConsentRecord | undefined> {
    const row = await this.db
      .selectFrom('consents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .where('audience', '=', audience)
      .executeTakeFirst();
    return row && consentFromRow(row);
  }

  async put(consent: Omit<ConsentRecord, 'id'>): Promise<void> {
    const scope = JSON.stringify(consent.scope);
    const id = consentId(consent.userId, consent.clientId, consent.audience);
    await this.db
      .insertInto('consents')
      .values({
        id,
        user_id: consent.userId,
        client_id: consent.clientId,
        audience: consent.audience,
        scope,
        updated_at: consent.updatedAt,
      })
      .onConflict((oc) => oc.columns(['user_id', 'client_id', 'audience']).doUpdateSet({ id, scope, updated_at: consent.updatedAt }))
      .execute();
  }

  async list(filter: { userId?: string; clientId?: string; audience?: string }): Promise<ConsentRecord[]> {
    let query = this.db.selectFrom('consents').selectAll();
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
    if (filter.audience !== undefined) query = query.where('audience', '=', filter.audience);
    const rows = await query.orderBy('updated_at').orderBy('client_id').limit(1000).execute();
    return rows.map(consentFromRow);
  }

  async deleteAllOf(userId: string, clientId?: string): Promise<void> {
    let query = this.db.deleteFrom('consents').where('user_id', '=', userId);
    if (clientId !== undefined) query = query.where('client_id', '=', clientId);
    await query.execute();
  }

  async deleteAllOfMany(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.deleteFrom('consents').where('user_id', 'in', userIds).execute();
  }

  async deleteAllFor(clientId: string): Promise<void> {
    await this.db.deleteFrom('consents').where('client_id', '=', clientId).execute();
  }

  async delete(id: string): Promise<ConsentRecord | undefined> {
    const row = await this.db.selectFrom('consents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const result = await this.db.deleteFrom('consents').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n ? consentFromRow(row) : undefined;
  }
}
