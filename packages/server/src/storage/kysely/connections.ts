import type { Kysely } from 'kysely';
import type { Connection, Page, PageRequest } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { ChangePublisher, ConnectionRepository } from '../types.js';
import { insertUnlessTaken, listPage, now } from './shared.js';

export class KyselyConnections implements ConnectionRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly changes: ChangePublisher,
  ) {}

  async get(id: string): Promise<Connection | undefined> {
    const row = await this.db.selectFrom('connections').select('data').where('id', '=', id).executeTakeFirst();
    return row && (JSON.parse(row.data) as Connection);
  }

  async lock(id: string): Promise<Connection | undefined> {
    const query = this.db.selectFrom('connections').select('data').where('id', '=', id);
    // FOR UPDATE: another read-modify-write of the row waits for this transaction. SQLite runs one
    // transaction at a time on latchkey's single connection, so there the transaction itself is the lock.
    const row = await (this.dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
    return row && (JSON.parse(row.data) as Connection);
  }

  async getByName(name: string): Promise<Connection | undefined> {
    const row = await this.db.selectFrom('connections').select('data').where('name', '=', name).executeTakeFirst();
    return row && (JSON.parse(row.data) as Connection);
  }

  list(filter: { strategy?: string; name?: string }, page: PageRequest): Promise<Page<Connection>> {
    return listPage(this.db, 'connections', 'id', { ...filter }, page);
  }

  async insert(connection: Connection): Promise<boolean> {
    const inserted = await insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('connections')
        .values({
          id: connection.id,
          name: connection.name,
          strategy: connection.strategy,
          data: JSON.stringify(connection),
          created_at: now(),
        })
        .execute(),
    );
    if (inserted) await this.changes.publish('connection', connection.name);
    return inserted;
  }

  async update(connection: Connection): Promise<boolean> {
    const result = await this.db
      .updateTable('connections')
      .set({ data: JSON.stringify(connection) })
      .where('id', '=', connection.id)
      .executeTakeFirst();
    await this.changes.publish('connection', connection.name);
    return result.numUpdatedRows > 0n;
  }

  async delete(id: string): Promise<boolean> {
    const row = await this.db.deleteFrom('connections').where('id', '=', id).returning('name').executeTakeFirst();
    if (row) await this.changes.publish('connection', row.name);
    return row !== undefined;
  }
}
