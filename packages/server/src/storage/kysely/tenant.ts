import type { Kysely } from 'kysely';
import type { TenantSettings } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { ChangePublisher, TenantRepository } from '../types.js';
import { insertUnlessTaken } from './shared.js';

export class KyselyTenant implements TenantRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangePublisher,
  ) {}

  async get(): Promise<TenantSettings | undefined> {
    const row = await this.db.selectFrom('tenant_settings').select('data').where('id', '=', 'default').executeTakeFirst();
    return row && (JSON.parse(row.data) as TenantSettings);
  }

  async create(settings: TenantSettings): Promise<boolean> {
    const inserted = await insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('tenant_settings')
        .values({ id: 'default', data: JSON.stringify(settings) })
        .execute(),
    );
    if (inserted) await this.changes.publish('tenant', 'default');
    return inserted;
  }

  async put(settings: TenantSettings): Promise<void> {
    const data = JSON.stringify(settings);
    await this.db
      .insertInto('tenant_settings')
      .values({ id: 'default', data })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data }))
      .execute();
    await this.changes.publish('tenant', 'default');
  }
}
