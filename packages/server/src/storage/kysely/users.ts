import type { Kysely } from 'kysely';
import type { Page, PageRequest, User, UserRecord } from '../../domain/types.js';
import type { UserSearch } from '../../domain/user-search.js';
import type { Database } from '../schema.js';
import type { UserRepository } from '../types.js';
import { insertUnlessTaken, listPage } from './shared.js';
import { insertUserRow, updateUserRow } from './user-columns.js';
import { searchUsers } from './user-query.js';

export class KyselyUsers implements UserRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  private userQuery() {
    return this.db.selectFrom('users').select(['data', 'connection', 'password_hash']);
  }

  private static toUserRecord(row: { data: string; connection: string; password_hash: string | null } | undefined) {
    return row && { user: JSON.parse(row.data) as User, connection: row.connection, passwordHash: row.password_hash };
  }

  async get(userId: string): Promise<UserRecord | undefined> {
    return KyselyUsers.toUserRecord(await this.userQuery().where('user_id', '=', userId).executeTakeFirst());
  }

  async findByEmail(connection: string, email: string): Promise<UserRecord | undefined> {
    const row = await this.userQuery().where('connection', '=', connection).where('email_lc', '=', email.toLowerCase()).executeTakeFirst();
    return KyselyUsers.toUserRecord(row);
  }

  async listByEmail(email: string): Promise<User[]> {
    const rows = await this.userQuery().where('email_lc', '=', email.toLowerCase()).orderBy('created_at').orderBy('user_id').execute();
    return rows.map((row) => KyselyUsers.toUserRecord(row)!.user);
  }

  async findByUsername(connection: string, username: string): Promise<UserRecord | undefined> {
    const row = await this.userQuery()
      .where('connection', '=', connection)
      .where('username_lc', '=', username.toLowerCase())
      .executeTakeFirst();
    return KyselyUsers.toUserRecord(row);
  }

  list(page: PageRequest): Promise<Page<User>> {
    return listPage(this.db, 'users', 'user_id', {}, page);
  }

  async listIdsOf(connection: string, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('users')
      .select('user_id')
      .where('connection', '=', connection)
      .orderBy('user_id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.user_id);
  }

  search(search: UserSearch, page: PageRequest & { kind: 'offset' }): Promise<Page<User>> {
    return searchUsers(this.db, this.dialect, search, page);
  }

  insert(record: UserRecord): Promise<boolean> {
    return insertUnlessTaken(this.db, () => insertUserRow(this.db, record));
  }

  async update(record: UserRecord, options: { ifPasswordHash?: string | null } = {}): Promise<boolean | 'conflict'> {
    let updated = false;
    const ok = await insertUnlessTaken(this.db, async () => {
      updated = await updateUserRow(this.db, record, options.ifPasswordHash);
    });
    return ok ? updated : 'conflict';
  }

  async delete(userId: string): Promise<boolean> {
    await this.db.deleteFrom('user_search_terms').where('user_id', '=', userId).execute();
    const result = await this.db.deleteFrom('users').where('user_id', '=', userId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async deleteMany(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.deleteFrom('user_search_terms').where('user_id', 'in', userIds).execute();
    await this.db.deleteFrom('users').where('user_id', 'in', userIds).execute();
  }
}
