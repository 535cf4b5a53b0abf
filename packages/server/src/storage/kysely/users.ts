import { type Kysely, sql } from 'kysely';
import type { Page, PageRequest, User, UserRecord } from '../../domain/types.js';
import type { UserSearch } from '../../domain/user-search.js';
import type { Database } from '../schema.js';
import type { InsertManyResult, UserRepository } from '../types.js';
import { atomically, insertUnlessTaken, listPage } from './shared.js';
import { insertUserRow, insertUserRows, updateUserRow } from './user-columns.js';
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

  async lock(userId: string): Promise<UserRecord | undefined> {
    const query = this.userQuery().where('user_id', '=', userId);
    // FOR UPDATE: another read-modify-write of the user waits for this transaction. SQLite runs one
    // transaction at a time on latchkey's single connection, so there the transaction itself is the lock.
    return KyselyUsers.toUserRecord(await (this.dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst());
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

  async connectionNames(): Promise<string[]> {
    // A loose index scan over users_connection_email: each step seeks the next name past the last.
    const { rows } = await sql<{ name: string | null }>`with recursive names(name) as (
        select min(connection) from users
        union all
        select (select min(connection) from users where connection > names.name) from names where names.name is not null
      ) select name from names where name is not null`.execute(this.db);
    return rows.map((row) => row.name!);
  }

  async listRecordsAfter(filter: { connection?: string; afterUserId?: string }, limit: number): Promise<UserRecord[]> {
    let query = this.userQuery().orderBy('user_id').limit(limit);
    if (filter.connection !== undefined) query = query.where('connection', '=', filter.connection);
    if (filter.afterUserId !== undefined) query = query.where('user_id', '>', filter.afterUserId);
    const rows = await query.execute();
    return rows.map((row) => KyselyUsers.toUserRecord(row)!);
  }

  search(search: UserSearch, page: PageRequest & { kind: 'offset' }): Promise<Page<User>> {
    return searchUsers(this.db, this.dialect, search, page);
  }

  insert(record: UserRecord): Promise<boolean> {
    return insertUnlessTaken(this.db, () => insertUserRow(this.db, record));
  }

  /**
   * Skips, rather than fails on, a taken user_id, email or username: an import reports those users
   * (or, upserting, updates them) and keeps the rest. What was taken is read back for the skipped ones
   * only, after the inserts, so an earlier record of the same batch counts as stored.
   */
  insertMany(records: UserRecord[]): Promise<InsertManyResult> {
    if (records.length === 0) return Promise.resolve({ inserted: 0, skipped: [] });
    return atomically(this.db, async (trx) => {
      const written = await insertUserRows(trx, records);
      const skipped: InsertManyResult['skipped'] = [];
      const skippedIndexes = records.flatMap((_, index) => (written[index] ? [] : [index]));
      const chunk = 1000;
      for (let i = 0; i < skippedIndexes.length; i += chunk) {
        const batch = skippedIndexes.slice(i, i + chunk).map((index) => ({ index, record: records[index]! }));
        const userIds = new Set(
          (
            await trx
              .selectFrom('users')
              .select('user_id')
              .where(
                'user_id',
                'in',
                batch.map((b) => b.record.user.user_id),
              )
              .execute()
          ).map((r) => r.user_id),
        );
        const emails = new Set<string>();
        const withEmail = batch.filter((b) => !userIds.has(b.record.user.user_id) && b.record.user.email);
        if (withEmail.length > 0) {
          const rows = await trx
            .selectFrom('users')
            .select(['connection', 'email_lc'])
            .where(
              'email_lc',
              'in',
              withEmail.map((b) => b.record.user.email!.toLowerCase()),
            )
            .execute();
          for (const row of rows) emails.add(JSON.stringify([row.connection, row.email_lc]));
        }
        for (const { index, record } of batch) {
          const taken = userIds.has(record.user.user_id)
            ? 'user_id'
            : record.user.email && emails.has(JSON.stringify([record.connection, record.user.email.toLowerCase()]))
              ? 'email'
              : 'username';
          skipped.push({ index, userId: record.user.user_id, taken });
        }
      }
      return { inserted: records.length - skipped.length, skipped };
    });
  }

  async update(record: UserRecord, options: { ifPasswordHash?: string | null } = {}): Promise<boolean | 'conflict'> {
    let updated = false;
    const ok = await insertUnlessTaken(this.db, async () => {
      updated = await updateUserRow(this.db, this.dialect, record, options.ifPasswordHash);
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

  async lockIds(userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    // In one order, so two transactions locking overlapping sets cannot wait on each other.
    const query = this.db.selectFrom('users').select('user_id').where('user_id', 'in', userIds).orderBy('user_id');
    return (await (this.dialect === 'postgres' ? query.forShare() : query).execute()).map((r) => r.user_id);
  }

  async existingIds(userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.selectFrom('users').select('user_id').where('user_id', 'in', userIds).execute();
    return rows.map((r) => r.user_id);
  }
}
