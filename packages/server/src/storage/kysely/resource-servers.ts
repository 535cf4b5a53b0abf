import type { Kysely } from 'kysely';
import type { Page, PageRequest, ResourceServer } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { ChangePublisher, ResourceServerRepository } from '../types.js';
import { insertUnlessTaken, listPage, now } from './shared.js';

export class KyselyResourceServers implements ResourceServerRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly changes: ChangePublisher,
  ) {}

  async get(id: string): Promise<ResourceServer | undefined> {
    const row = await this.db.selectFrom('resource_servers').select('data').where('id', '=', id).executeTakeFirst();
    return row && (JSON.parse(row.data) as ResourceServer);
  }

  async getByIdentifier(identifier: string): Promise<ResourceServer | undefined> {
    const row = await this.db.selectFrom('resource_servers').select('data').where('identifier', '=', identifier).executeTakeFirst();
    return row && (JSON.parse(row.data) as ResourceServer);
  }

  async lockByIdentifier(identifier: string): Promise<ResourceServer | undefined> {
    const query = this.db.selectFrom('resource_servers').select('data').where('identifier', '=', identifier);
    // FOR SHARE: other grants on the API run alongside; its DELETE or UPDATE waits for this transaction.
    const row = await (this.dialect === 'postgres' ? query.forShare() : query).executeTakeFirst();
    return row && (JSON.parse(row.data) as ResourceServer);
  }

  list(page: PageRequest, filter: { identifiers?: string[] } = {}): Promise<Page<ResourceServer>> {
    return listPage(this.db, 'resource_servers', 'id', { identifier: filter.identifiers }, page);
  }

  async insert(rs: ResourceServer): Promise<boolean> {
    const inserted = await insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('resource_servers')
        .values({ id: rs.id, identifier: rs.identifier, data: JSON.stringify(rs), created_at: now() })
        .execute(),
    );
    if (inserted) await this.changes.publish('resource_server', rs.identifier);
    return inserted;
  }

  async update(rs: ResourceServer): Promise<boolean> {
    const result = await this.db
      .updateTable('resource_servers')
      .set({ data: JSON.stringify(rs) })
      .where('id', '=', rs.id)
      .executeTakeFirst();
    await this.changes.publish('resource_server', rs.identifier);
    return result.numUpdatedRows > 0n;
  }

  async delete(id: string): Promise<boolean> {
    const row = await this.db.deleteFrom('resource_servers').where('id', '=', id).returning('identifier').executeTakeFirst();
    if (row) await this.changes.publish('resource_server', row.identifier);
    return row !== undefined;
  }
}
