import type { Kysely } from 'kysely';
import type { LoginTransaction } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { LoginTransactionRepository } from '../types.js';

export class KyselyLoginTransactions implements LoginTransactionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async put(tx: LoginTransaction): Promise<void> {
    const { source, ...rest } = tx;
    const data = JSON.stringify(rest);
    await this.db
      .insertInto('login_transactions')
      .values({ id: tx.id, data, expires_at: tx.expiresAt, source: source ?? null })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data, expires_at: tx.expiresAt }))
      .execute();
  }

  async trim(source: string, keep: number, newestId: string): Promise<void> {
    // The newest is kept whatever its expiry: ties (one clock tick) must not evict the request
    // being answered. The index on (source, expires_at) bounds the scan to `keep` entries.
    const boundary = await this.db
      .selectFrom('login_transactions')
      .select(['expires_at', 'id'])
      .where('source', '=', source)
      .where('id', '!=', newestId)
      .orderBy('expires_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .offset(Math.max(0, keep - 1))
      .executeTakeFirst();
    if (!boundary) return;
    await this.db
      .deleteFrom('login_transactions')
      .where('source', '=', source)
      .where('id', '!=', newestId)
      .where((eb) =>
        eb.or([
          eb('expires_at', '<', boundary.expires_at),
          eb.and([eb('expires_at', '=', boundary.expires_at), eb('id', '<=', boundary.id)]),
        ]),
      )
      .execute();
  }

  async get(id: string): Promise<LoginTransaction | undefined> {
    const row = await this.db.selectFrom('login_transactions').select(['data', 'source']).where('id', '=', id).executeTakeFirst();
    return row && { ...(JSON.parse(row.data) as LoginTransaction), ...(row.source !== null ? { source: row.source } : {}) };
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('login_transactions').where('id', '=', id).execute();
  }
}
