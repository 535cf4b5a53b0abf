import type { Kysely } from 'kysely';
import type { ClientGrant, Page, PageRequest } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { ChangePublisher, ClientGrantFilter, ClientGrantRepository } from '../types.js';
import { insertUnlessTaken, listPage, now } from './shared.js';

export class KyselyClientGrants implements ClientGrantRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangePublisher,
  ) {}

  async get(id: string): Promise<ClientGrant | undefined> {
    const row = await this.db.selectFrom('client_grants').select('data').where('id', '=', id).executeTakeFirst();
    return row && (JSON.parse(row.data) as ClientGrant);
  }

  async find(clientId: string, audience: string): Promise<ClientGrant | undefined> {
    const row = await this.db
      .selectFrom('client_grants')
      .select('data')
      .where('client_id', '=', clientId)
      .where('audience', '=', audience)
      .executeTakeFirst();
    return row && (JSON.parse(row.data) as ClientGrant);
  }

  list(filter: ClientGrantFilter, page: PageRequest): Promise<Page<ClientGrant>> {
    return listPage(this.db, 'client_grants', 'id', { ...filter }, page);
  }

  async insert(grant: ClientGrant): Promise<boolean> {
    const inserted = await insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('client_grants')
        .values({
          id: grant.id,
          client_id: grant.client_id,
          audience: grant.audience,
          data: JSON.stringify(grant),
          created_at: now(),
        })
        .execute(),
    );
    if (inserted) await this.changes.publish('client_grant', `${grant.client_id} ${grant.audience}`);
    return inserted;
  }

  async update(grant: ClientGrant): Promise<boolean> {
    const result = await this.db
      .updateTable('client_grants')
      .set({ data: JSON.stringify(grant) })
      .where('id', '=', grant.id)
      .executeTakeFirst();
    await this.changes.publish('client_grant', `${grant.client_id} ${grant.audience}`);
    return result.numUpdatedRows > 0n;
  }

  async delete(id: string): Promise<boolean> {
    const row = await this.db.deleteFrom('client_grants').where('id', '=', id).returning(['client_id', 'audience']).executeTakeFirst();
    if (row) await this.changes.publish('client_grant', `${row.client_id} ${row.audience}`);
    return row !== undefined;
  }

  async deleteWhere(filter: ClientGrantFilter): Promise<void> {
    if (filter.client_id === undefined && filter.audience === undefined) return;
    let query = this.db.deleteFrom('client_grants');
    if (filter.client_id !== undefined) query = query.where('client_id', '=', filter.client_id);
    if (filter.audience !== undefined) query = query.where('audience', '=', filter.audience);
    const rows = await query.returning(['client_id', 'audience']).execute();
    for (const row of rows) await this.changes.publish('client_grant', `${row.client_id} ${row.audience}`);
  }
}
