import { Migrator, sql, type Kysely, type Transaction } from 'kysely';
import { browserOriginsOf } from '../oauth/browser-origins.js';
import { KyselySignInStorage } from './kysely-sign-in.js';
import { migrationProvider } from './migrations/index.js';
import { insertUserRow, updateUserRow } from './kysely/user-columns.js';
import { searchUsers } from './kysely/user-query.js';
import type { UserSearch } from '../domain/user-search.js';
import type { Database } from './schema.js';
import type { ChangeFeed, ClientGrantFilter, Storage } from './types.js';
import type { Client, ClientGrant, ClientRecord, Connection, Page, PageRequest, ResourceServer, SigningKeyRecord, TenantSettings, User, UserPermission, UserRecord } from '../domain/types.js';

type Dialect = 'sqlite' | 'postgres';

/** Permissions by API, each name once. */
function groupByAudience(permissions: UserPermission[]): Map<string, string[]> {
  const byAudience = new Map<string, Set<string>>();
  for (const { audience, permission } of permissions) {
    let names = byAudience.get(audience);
    if (!names) byAudience.set(audience, (names = new Set()));
    names.add(permission);
  }
  return new Map([...byAudience].map(([audience, names]) => [audience, [...names]]));
}

/** SQLite and PostgreSQL both report unique violations, each in its own words. */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

async function insertUnlessTaken(insert: () => Promise<unknown>): Promise<boolean> {
  try {
    await insert();
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

function encodeCheckpoint(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/** Resolves undefined for a checkpoint this server did not hand out, which callers treat as a 400. */
export function decodeCheckpoint(from: string): [string, string] | undefined {
  try {
    const value = JSON.parse(Buffer.from(from, 'base64url').toString('utf8')) as unknown;
    // No NUL: PostgreSQL refuses it in a text comparison, so a crafted checkpoint would be a 500.
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string' && !v.includes('\u0000'))) {
      return value as [string, string];
    }
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * Every list is ordered by (created_at, id): creation order, stable across pages, and the same in
 * both databases. `where` narrows the rows; the table's `data` column holds the document.
 */
async function listPage<T>(
  db: Kysely<Database>,
  table: 'clients' | 'resource_servers' | 'client_grants' | 'connections' | 'users',
  idColumn: 'client_id' | 'id' | 'user_id',
  where: Record<string, string | number | string[] | undefined>,
  page: PageRequest,
): Promise<Page<T>> {
  // Kysely cannot type a query over a table chosen at run time; the shape is fixed by the callers.
  const anyDb = db as unknown as Kysely<Record<string, Record<string, string>>>;
  let query = anyDb.selectFrom(table).select(['data', 'created_at', idColumn]);
  let count = anyDb.selectFrom(table).select(sql<string | number>`count(*)`.as('n'));
  for (const [column, value] of Object.entries(where)) {
    if (value === undefined) continue;
    // An empty list matches nothing (`in ()` is not SQL).
    const list = Array.isArray(value) ? value : [value];
    const condition = list.length > 0 ? sql<boolean>`${sql.ref(column)} in (${sql.join(list)})` : sql<boolean>`1 = 0`;
    query = query.where(condition);
    count = count.where(condition);
  }
  const parse = (rows: Array<Record<string, string>>) => rows.map((r) => JSON.parse(r.data!) as T);

  if (page.kind === 'checkpoint') {
    if (page.from !== undefined) {
      const [createdAt, id] = decodeCheckpoint(page.from) ?? ['', ''];
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '>', createdAt),
          eb.and([eb('created_at', '=', createdAt), eb(idColumn, '>', id)]),
        ]),
      );
    }
    const rows = await query.orderBy('created_at').orderBy(idColumn).limit(page.take + 1).execute();
    const more = rows.length > page.take;
    const kept = rows.slice(0, page.take);
    const last = kept[kept.length - 1];
    return {
      items: parse(kept),
      ...(more && last ? { next: encodeCheckpoint(last.created_at!, last[idColumn]!) } : {}),
    };
  }

  const rows = await query.orderBy('created_at').orderBy(idColumn).limit(page.limit).offset(page.offset).execute();
  if (!page.includeTotal) return { items: parse(rows) };
  const total = await count.executeTakeFirstOrThrow();
  return { items: parse(rows), total: Number(total.n) };
}

const now = () => new Date().toISOString();

/** The client fields the list filters by (0015), kept in step with `data`. */
const clientColumns = (client: Client) => ({ app_type: client.app_type ?? '', is_first_party: client.is_first_party ? 1 : 0 });

const REGISTERED_CLIENTS = 'registered_clients';

/** Rolls back a registration that found the cap reached. */
class CapReached extends Error {}

async function insertOrigins(trx: Transaction<Database>, clientId: string, origins: string[]): Promise<void> {
  if (origins.length > 0) await trx.insertInto('client_origins').values(origins.map((origin) => ({ origin, client_id: clientId }))).execute();
}

/** Deletes a client's origin rows and answers the origins they held. */
async function deleteOrigins(trx: Transaction<Database>, clientId: string): Promise<string[]> {
  const rows = await trx.deleteFrom('client_origins').where('client_id', '=', clientId).returning('origin').execute();
  return rows.map((r) => r.origin);
}

export class KyselyStorage extends KyselySignInStorage implements Storage {
  constructor(
    db: Kysely<Database>,
    readonly dialect: Dialect,
    readonly changes: ChangeFeed,
    private readonly onClose: () => Promise<void> = async () => {},
    /**
     * PostgreSQL schema of the migration tables. Kysely looks for them in every schema unless told,
     * so a second latchkey schema in the same database would find the first one's and skip creating its own.
     */
    private readonly migrationSchema?: string,
  ) {
    super(db);
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider,
      migrationTableName: 'latchkey_migrations',
      migrationLockTableName: 'latchkey_migrations_lock',
      ...(this.migrationSchema ? { migrationTableSchema: this.migrationSchema } : {}),
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(`Migration ${failed} failed: ${(error as Error).message}`);
    }
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.onClose();
    await this.db.destroy();
  }

  // --- clients -------------------------------------------------------------------------------

  async getClient(clientId: string): Promise<ClientRecord | undefined> {
    const row = await this.db
      .selectFrom('clients')
      .select(['data', 'secret_digest'])
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row && { client: JSON.parse(row.data) as Client, secretDigest: row.secret_digest };
  }

  listClients(page: PageRequest, filter: { app_type?: string[]; is_first_party?: boolean } = {}): Promise<Page<Client>> {
    const firstParty = filter.is_first_party === undefined ? undefined : Number(filter.is_first_party);
    return listPage(this.db, 'clients', 'client_id', { app_type: filter.app_type, is_first_party: firstParty }, page);
  }

  async insertClient({ client, secretDigest }: ClientRecord, options: { maxRegistered?: number } = {}): Promise<boolean> {
    const origins = browserOriginsOf(client);
    try {
      await this.db.transaction().execute(async (trx) => {
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
        if (client.registration_source !== 'dynamic_registration') return;
        // The count goes up only below the cap, in the same transaction as the row, so concurrent
        // registrations queue on the counter row (PostgreSQL) or the write lock (SQLite) and never
        // overshoot. Last, so that the row every registration updates is held only until the commit.
        let counted = trx.updateTable('counters').set({ value: sql`value + 1` }).where('name', '=', REGISTERED_CLIENTS);
        if (options.maxRegistered !== undefined) counted = counted.where('value', '<', options.maxRegistered);
        if ((await counted.executeTakeFirst()).numUpdatedRows === 0n) throw new CapReached();
      });
    } catch (err) {
      if (err instanceof CapReached) return false;
      throw err;
    }
    await this.changes.publish('client', client.client_id);
    await this.publishOrigins(origins);
    return true;
  }

  async updateClient(client: Client, secretDigest?: string): Promise<boolean> {
    const origins = browserOriginsOf(client);
    const changed = await this.db.transaction().execute(async (trx) => {
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

  async deleteClient(clientId: string): Promise<boolean> {
    const removed = await this.db.transaction().execute(async (trx) => {
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

  async clientOriginExists(key: string): Promise<boolean> {
    const row = await this.db.selectFrom('client_origins').select('client_id').where('origin', '=', key).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async countRegisteredClients(): Promise<number> {
    const row = await this.db.selectFrom('counters').select('value').where('name', '=', REGISTERED_CLIENTS).executeTakeFirst();
    return Number(row?.value ?? 0);
  }

  private async publishOrigins(origins: string[]): Promise<void> {
    for (const origin of origins) await this.changes.publish('client_origin', origin);
  }

  async hitRateLimit(key: string, windowStartedAt: string): Promise<number> {
    // One statement, so hits from every node and request count; a node whose clock lags never moves the window back.
    const row = await this.db
      .insertInto('rate_limit_windows')
      .values({ key, window_started_at: windowStartedAt, hits: 1 })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          hits: sql<number>`case when rate_limit_windows.window_started_at < ${windowStartedAt} then 1 else rate_limit_windows.hits + 1 end`,
          window_started_at: sql<string>`case when rate_limit_windows.window_started_at < ${windowStartedAt} then ${windowStartedAt} else rate_limit_windows.window_started_at end`,
        }),
      )
      .returning('hits')
      .executeTakeFirstOrThrow();
    return Number(row.hits);
  }

  // --- resource servers ----------------------------------------------------------------------

  async getResourceServer(id: string): Promise<ResourceServer | undefined> {
    const row = await this.db.selectFrom('resource_servers').select('data').where('id', '=', id).executeTakeFirst();
    return row && (JSON.parse(row.data) as ResourceServer);
  }

  async getResourceServerByIdentifier(identifier: string): Promise<ResourceServer | undefined> {
    const row = await this.db
      .selectFrom('resource_servers')
      .select('data')
      .where('identifier', '=', identifier)
      .executeTakeFirst();
    return row && (JSON.parse(row.data) as ResourceServer);
  }

  listResourceServers(page: PageRequest, filter: { identifiers?: string[] } = {}): Promise<Page<ResourceServer>> {
    return listPage(this.db, 'resource_servers', 'id', { identifier: filter.identifiers }, page);
  }

  async insertResourceServer(rs: ResourceServer): Promise<boolean> {
    const inserted = await insertUnlessTaken(() =>
      this.db
        .insertInto('resource_servers')
        .values({ id: rs.id, identifier: rs.identifier, data: JSON.stringify(rs), created_at: now() })
        .execute(),
    );
    if (inserted) await this.changes.publish('resource_server', rs.identifier);
    return inserted;
  }

  async updateResourceServer(rs: ResourceServer): Promise<boolean> {
    const result = await this.db
      .updateTable('resource_servers')
      .set({ data: JSON.stringify(rs) })
      .where('id', '=', rs.id)
      .executeTakeFirst();
    await this.changes.publish('resource_server', rs.identifier);
    return result.numUpdatedRows > 0n;
  }

  async deleteResourceServer(id: string): Promise<boolean> {
    const row = await this.db
      .deleteFrom('resource_servers')
      .where('id', '=', id)
      .returning('identifier')
      .executeTakeFirst();
    if (row) await this.removeApiPermissions(row.identifier);
    if (row) await this.changes.publish('resource_server', row.identifier);
    return row !== undefined;
  }

  // --- client grants -------------------------------------------------------------------------

  async getClientGrant(id: string): Promise<ClientGrant | undefined> {
    const row = await this.db.selectFrom('client_grants').select('data').where('id', '=', id).executeTakeFirst();
    return row && (JSON.parse(row.data) as ClientGrant);
  }

  async findClientGrant(clientId: string, audience: string): Promise<ClientGrant | undefined> {
    const row = await this.db
      .selectFrom('client_grants')
      .select('data')
      .where('client_id', '=', clientId)
      .where('audience', '=', audience)
      .executeTakeFirst();
    return row && (JSON.parse(row.data) as ClientGrant);
  }

  listClientGrants(filter: ClientGrantFilter, page: PageRequest): Promise<Page<ClientGrant>> {
    return listPage(this.db, 'client_grants', 'id', { ...filter }, page);
  }

  async insertClientGrant(grant: ClientGrant): Promise<boolean> {
    const inserted = await insertUnlessTaken(() =>
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

  async updateClientGrant(grant: ClientGrant): Promise<boolean> {
    const result = await this.db
      .updateTable('client_grants')
      .set({ data: JSON.stringify(grant) })
      .where('id', '=', grant.id)
      .executeTakeFirst();
    await this.changes.publish('client_grant', `${grant.client_id} ${grant.audience}`);
    return result.numUpdatedRows > 0n;
  }

  async deleteClientGrant(id: string): Promise<boolean> {
    const row = await this.db
      .deleteFrom('client_grants')
      .where('id', '=', id)
      .returning(['client_id', 'audience'])
      .executeTakeFirst();
    if (row) await this.changes.publish('client_grant', `${row.client_id} ${row.audience}`);
    return row !== undefined;
  }

  async deleteClientGrantsWhere(filter: ClientGrantFilter): Promise<void> {
    if (filter.client_id === undefined && filter.audience === undefined) return;
    let query = this.db.deleteFrom('client_grants');
    if (filter.client_id !== undefined) query = query.where('client_id', '=', filter.client_id);
    if (filter.audience !== undefined) query = query.where('audience', '=', filter.audience);
    const rows = await query.returning(['client_id', 'audience']).execute();
    for (const row of rows) await this.changes.publish('client_grant', `${row.client_id} ${row.audience}`);
  }

  // --- connections ---------------------------------------------------------------------------

  async getConnection(id: string): Promise<Connection | undefined> {
    const row = await this.db.selectFrom('connections').select('data').where('id', '=', id).executeTakeFirst();
    return row && (JSON.parse(row.data) as Connection);
  }

  async getConnectionByName(name: string): Promise<Connection | undefined> {
    const row = await this.db.selectFrom('connections').select('data').where('name', '=', name).executeTakeFirst();
    return row && (JSON.parse(row.data) as Connection);
  }

  listConnections(filter: { strategy?: string; name?: string }, page: PageRequest): Promise<Page<Connection>> {
    return listPage(this.db, 'connections', 'id', { ...filter }, page);
  }

  async insertConnection(connection: Connection): Promise<boolean> {
    const inserted = await insertUnlessTaken(() =>
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

  async updateConnection(connection: Connection): Promise<boolean> {
    const result = await this.db
      .updateTable('connections')
      .set({ data: JSON.stringify(connection) })
      .where('id', '=', connection.id)
      .executeTakeFirst();
    await this.changes.publish('connection', connection.name);
    return result.numUpdatedRows > 0n;
  }

  async deleteConnection(id: string): Promise<boolean> {
    const row = await this.db.deleteFrom('connections').where('id', '=', id).returning('name').executeTakeFirst();
    if (row) await this.changes.publish('connection', row.name);
    return row !== undefined;
  }

  // --- users ---------------------------------------------------------------------------------

  private userQuery() {
    return this.db.selectFrom('users').select(['data', 'connection', 'password_hash']);
  }

  private static toUserRecord(row: { data: string; connection: string; password_hash: string | null } | undefined) {
    return row && { user: JSON.parse(row.data) as User, connection: row.connection, passwordHash: row.password_hash };
  }

  async getUser(userId: string): Promise<UserRecord | undefined> {
    return KyselyStorage.toUserRecord(await this.userQuery().where('user_id', '=', userId).executeTakeFirst());
  }

  async findUserByEmail(connection: string, email: string): Promise<UserRecord | undefined> {
    const row = await this.userQuery()
      .where('connection', '=', connection)
      .where('email_lc', '=', email.toLowerCase())
      .executeTakeFirst();
    return KyselyStorage.toUserRecord(row);
  }

  async listUsersByEmail(email: string): Promise<User[]> {
    const rows = await this.userQuery().where('email_lc', '=', email.toLowerCase()).orderBy('created_at').orderBy('user_id').execute();
    return rows.map((row) => KyselyStorage.toUserRecord(row)!.user);
  }

  async findUserByUsername(connection: string, username: string): Promise<UserRecord | undefined> {
    const row = await this.userQuery()
      .where('connection', '=', connection)
      .where('username_lc', '=', username.toLowerCase())
      .executeTakeFirst();
    return KyselyStorage.toUserRecord(row);
  }

  listUsers(page: PageRequest): Promise<Page<User>> {
    return listPage(this.db, 'users', 'user_id', {}, page);
  }

  searchUsers(search: UserSearch, page: PageRequest & { kind: 'offset' }): Promise<Page<User>> {
    return searchUsers(this.db, this.dialect, search, page);
  }

  insertUser(record: UserRecord): Promise<boolean> {
    return insertUnlessTaken(() => insertUserRow(this.db, record));
  }

  async updateUser(record: UserRecord, options: { ifPasswordHash?: string | null } = {}): Promise<boolean | 'conflict'> {
    let updated = false;
    const ok = await insertUnlessTaken(async () => {
      updated = await updateUserRow(this.db, record, options.ifPasswordHash);
    });
    return ok ? updated : 'conflict';
  }

  async deleteUser(userId: string): Promise<boolean> {
    await this.db.deleteFrom('user_permissions').where('user_id', '=', userId).execute();
    await this.db.deleteFrom('user_search_terms').where('user_id', '=', userId).execute();
    const result = await this.db.deleteFrom('users').where('user_id', '=', userId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async addUserPermissions(userId: string, permissions: UserPermission[], now: string): Promise<void> {
    const rows = [...groupByAudience(permissions)].flatMap(([audience, names]) =>
      names.map((permission) => ({ user_id: userId, audience, permission, created_at: now })),
    );
    if (rows.length === 0) return;
    await this.db
      .insertInto('user_permissions')
      .values(rows)
      .onConflict((oc) => oc.columns(['user_id', 'audience', 'permission']).doNothing())
      .execute();
  }

  async removeUserPermissions(userId: string, permissions: UserPermission[]): Promise<void> {
    // One `IN` list per API: a long OR of pairs would exceed SQLite's expression depth.
    for (const [audience, names] of groupByAudience(permissions)) {
      await this.db
        .deleteFrom('user_permissions')
        .where('user_id', '=', userId)
        .where('audience', '=', audience)
        .where('permission', 'in', names)
        .execute();
    }
  }

  async removeApiPermissions(audience: string, permissions?: string[]): Promise<void> {
    if (permissions?.length === 0) return;
    let query = this.db.deleteFrom('user_permissions').where('audience', '=', audience);
    if (permissions) query = query.where('permission', 'in', permissions);
    await query.execute();
  }

  async listUserPermissions(userId: string, audience?: string): Promise<UserPermission[]> {
    let query = this.db.selectFrom('user_permissions').select(['audience', 'permission']).where('user_id', '=', userId);
    if (audience !== undefined) query = query.where('audience', '=', audience);
    return query.orderBy('audience').orderBy('permission').execute();
  }

  // --- tenant --------------------------------------------------------------------------------

  async getTenantSettings(): Promise<TenantSettings | undefined> {
    const row = await this.db.selectFrom('tenant_settings').select('data').where('id', '=', 'default').executeTakeFirst();
    return row && (JSON.parse(row.data) as TenantSettings);
  }

  async createTenantSettings(settings: TenantSettings): Promise<boolean> {
    const inserted = await insertUnlessTaken(() =>
      this.db.insertInto('tenant_settings').values({ id: 'default', data: JSON.stringify(settings) }).execute(),
    );
    if (inserted) await this.changes.publish('tenant', 'default');
    return inserted;
  }

  async putTenantSettings(settings: TenantSettings): Promise<void> {
    const data = JSON.stringify(settings);
    await this.db
      .insertInto('tenant_settings')
      .values({ id: 'default', data })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data }))
      .execute();
    await this.changes.publish('tenant', 'default');
  }

  // --- signing keys --------------------------------------------------------------------------

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
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

  async rotateSigningKey(next: SigningKeyRecord, publishPreviousUntil: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // Rotations on other nodes wait here: otherwise each retires only the keys committed before it
      // started, and two rotating at once leave two current keys. Readers are not blocked. (SQLite
      // already serialises writers.)
      if (this.dialect === 'postgres') await sql`lock table signing_keys in share row exclusive mode`.execute(trx);
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
