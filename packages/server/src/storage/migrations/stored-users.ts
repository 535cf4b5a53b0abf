import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface StoredUserRow {
  user_id: string;
  connection: string;
  password_hash: string | null;
  data: string;
}

/** Visits every stored user, in keyset batches of 500: bounded memory whatever the number of users. */
export async function forEachStoredUser(db: Kysely<Database>, visit: (row: StoredUserRow) => Promise<void>): Promise<void> {
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('users')
      .select(['user_id', 'connection', 'password_hash', 'data'])
      .where('user_id', '>', after)
      .orderBy('user_id')
      .limit(500)
      .execute();
    if (rows.length === 0) return;
    for (const row of rows) await visit(row);
    after = rows[rows.length - 1]!.user_id;
  }
}
