import type { Kysely } from 'kysely';
import type { User } from '../../domain/types.js';
import type { Database } from '../schema.js';
import { forEachStoredUser } from './stored-users.js';

/**
 * Auth0's user search matches the normalized fields name, given_name, family_name and nickname
 * case-insensitively; their search columns (0014) now hold the folded value, as email_lc does.
 * Existing users are folded from their JSON document with JavaScript's toLowerCase, the same
 * folding new writes and the query text get (SQL lower() differs between the two databases).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const typed = db as unknown as Kysely<Database>;
  const fold = (value: string | undefined) => value?.toLowerCase() ?? null;
  await forEachStoredUser(typed, async (row) => {
    const user = JSON.parse(row.data) as User;
    await typed
      .updateTable('users')
      .set({
        name: fold(user.name),
        nickname: fold(user.nickname),
        given_name: fold(user.given_name),
        family_name: fold(user.family_name),
      })
      .where('user_id', '=', row.user_id)
      .execute();
  });
}

/** The columns hold folded values either way; the original case stays in the JSON document. */
export async function down(): Promise<void> {}
