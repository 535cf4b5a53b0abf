import { type Kysely, sql } from 'kysely';
import type { Client, ClientRecord, Page, PageRequest } from '../../domain/types.js';
import { browserOriginsOf } from '../../oauth/browser-origins.js';
import type { Database } from '../schema.js';
import type { ChangePublisher, ClientRepository } from '../types.js';
import { atomically, listPage, now } from './shared.js';

const REGISTERED_CLIENTS = 'registered_clients';

/** The client fields the list filters by (0015, 0020), kept in step with `data`. */
const clientColumns = (client: Client) => ({
  app_type: client.app_type ?? '',
  is_first_party: client.is_first_party ? 1 : 0,
  is_system: client.is_system ? 1 : 0,
});

/** Rolls back a registration that found the cap reached. */
class CapReached extends Error {}

async function insertOrigins(trx: Kysely<Database>, clientId: string, origins: string[]): Promise<void> {
  if (origins.length > 0)
    await trx
      .insertInto('client_origins')
      .values(origins.map((origin) => ({ origin, client_id: clientId })))
      .execute();
}

/** Deletes a client's origin rows and answers the origins they held. */
async function deleteOrigins(trx: Kysely<Database>, clientId: string): Promise<string[]> {
  const rows = await trx.deleteFrom('client_origins').where('client_id', '=', clientId).returning('origin').execute();
  return rows.map((r) => r.origin);
}

export class KyselyClients implements ClientRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangePublisher,
  ) {}

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const row = await this.db.selectFrom('clients').select(['data', 'secret_digest']).where('client_id', '=', clientId).executeTakeFirst();
    return row && { client: JSON.parse(row.data) as Client, secretDigest: row.secret_digest };
  }

  list(page: PageRequest, filter: { app_type?: string[]; is_first_party?: boolean; is_system?: boolean } = {}): Promise<Page<Client>> {
    const flag = (value: boolean | undefined) => (value === undefined ? undefined : Number(value));
    const where = { app_type: filter.app_type, is_first_party: flag(filter.is_first_party), is_system: flag(filter.is_system) };
    return listPage(this.db, 'clients', 'client_id', where, page);
  }

  async insert({ client, secretDigest }: ClientRecord, options: { maxRegistered?: number } = {}): Promise<boolean> {
    const origins = browserOriginsOf(client);
    const count = async (trx: Kysely<Database>) => {
      if (client.registration_source !== 'dynamic_registration') return;
      // The count goes up only below the cap, in the same transaction as the row, so concurrent
      // registrations queue on the counter row (PostgreSQL) or the write lock (SQLite) and never
      // overshoot.
      let counted = trx.updateTable('counters').set({ value: sql`value + 1` }).where('name', '=', REGISTERED_CLIENTS);
      if (options.maxRegistered !== undefined) counted = counted.where('value', '<', options.maxRegistered);
      if ((await counted.executeTakeFirst()).numUpdatedRows === 0n) throw new CapReached();
    };
    const insertRows = async (trx: Kysely<Database>) => {
      await trx
        .insertInto('clients')
        .values({
          client_id: client.client_id,
          secret_digest: secretDigest,
          data: JSON.stringify(client),
          created_at: now(),
          ...clientColumns(client),
        })
        .execute();
      await insertOrigins(trx, client.client_id, origins);
    };
    try {
      if (this.db.isTransaction) {
        // In the caller's transaction nothing can be rolled back alone, so the cap is checked before any write.
        await count(this.db);
        await insertRows(this.db);
      } else {
        // Counted last, so that the row every registration updates is held only until the commit.
        await this.db.transaction().execute(async (trx) => {
          await insertRows(trx);
          await count(trx);
        });
      }
    } catch (err) {
      if (err instanceof CapReached) return false;
      throw err;
    }
    await this.changes.publish('client', client.client_id);
    await this.publishOrigins(origins);
    return true;
  }

  async update(client: Client, secretDigest?: string): Promise<boolean> {
    const origins = browserOriginsOf(client);
    const changed = await atomically(this.db, async (trx) => {
      // The row update comes first: it locks the client, so concurrent updates rewrite its origins one after the other.
      const result = await trx
        .updateTable('clients')
        .set({ data: JSON.stringify(client), ...clientColumns(client), ...(secretDigest ? { secret_digest: secretDigest } : {}) })
        .where('client_id', '=', client.client_id)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return undefined;
      const before = await deleteOrigins(trx, client.client_id);
      await insertOrigins(trx, client.client_id, origins);
      // Only origins the client gained or lost can change an answer.
      return [...before.filter((o) => !origins.includes(o)), ...origins.filter((o) => !before.includes(o))];
    });
    await this.changes.publish('client', client.client_id);
    if (changed) await this.publishOrigins(changed);
    return changed !== undefined;
  }

  async delete(clientId: string): Promise<boolean> {
    const removed = await atomically(this.db, async (trx) => {
      const row = await trx.deleteFrom('clients').where('client_id', '=', clientId).returning('data').executeTakeFirst();
      if (!row) return undefined;
      if ((JSON.parse(row.data) as Client).registration_source === 'dynamic_registration') {
        await trx.updateTable('counters').set({ value: sql`value - 1` }).where('name', '=', REGISTERED_CLIENTS).execute();
      }
      return deleteOrigins(trx, clientId);
    });
    await this.changes.publish('client', clientId);
    if (removed) await this.publishOrigins(removed);
    return removed !== undefined;
  }

  async originExists(key: string): Promise<boolean> {
    const row = await this.db.selectFrom('client_origins').select('client_id').where('origin', '=', key).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async countRegistered(): Promise<number> {
    const row = await this.db.selectFrom('counters').select('value').where('name', '=', REGISTERED_CLIENTS).executeTakeFirst();
    return Number(row?.value ?? 0);
  }

  private async publishOrigins(origins: string[]): Promise<void> {
    for (const origin of origins) await this.changes.publish('client_origin', origin);
  }
}
