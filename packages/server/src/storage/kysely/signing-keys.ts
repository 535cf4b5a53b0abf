import { type Kysely, PostgresAdapter, sql } from 'kysely';
import type { SigningKeyRecord } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { ChangePublisher, SigningKeyRepository } from '../types.js';
import { atomically } from './shared.js';

export class KyselySigningKeys implements SigningKeyRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangePublisher,
  ) {}

  async list(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at').orderBy('kid').execute();
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg as 'RS256',
      publicJwk: JSON.parse(r.public_jwk) as Record<string, string>,
      privateKeyEncrypted: r.private_key_encrypted,
      createdAt: r.created_at,
      retiredAt: r.retired_at,
      publishUntil: r.publish_until,
    }));
  }

  async rotate(next: SigningKeyRecord, publishPreviousUntil: string): Promise<void> {
    await atomically(this.db, async (trx) => {
      // Rotations on other nodes wait here: otherwise each retires only the keys committed before it
      // started, and two rotating at once leave two current keys. Readers are not blocked. (SQLite
      // already serialises writers.)
      if (trx.getExecutor().adapter instanceof PostgresAdapter) await sql`lock table signing_keys in share row exclusive mode`.execute(trx);
      await trx
        .updateTable('signing_keys')
        .set({ retired_at: next.createdAt, publish_until: publishPreviousUntil })
        .where('retired_at', 'is', null)
        .execute();
      await trx
        .insertInto('signing_keys')
        .values({
          kid: next.kid,
          alg: next.alg,
          public_jwk: JSON.stringify(next.publicJwk),
          private_key_encrypted: next.privateKeyEncrypted,
          created_at: next.createdAt,
          retired_at: null,
          publish_until: null,
        })
        .execute();
    });
    await this.changes.publish('signing_key', next.kid);
  }
}
