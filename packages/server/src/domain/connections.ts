import type { Encrypter } from '../crypto/encryption.js';
import type { Connection } from '../domain/types.js';
import type { Repositories, Storage } from '../storage/types.js';
import { conflict, invalidField, notFound } from './errors.js';
import { newConnectionId } from './ids.js';
import { assertUpstreamOptions, sealOptions } from './upstream-options.js';
import { deleteUsersWith } from './users.js';

export const DEFAULT_DATABASE_CONNECTION = 'Username-Password-Authentication';

export type ConnectionInput = Partial<Omit<Connection, 'id'>>;

async function assertClientsExist(storage: Pick<Repositories, 'clients'>, clientIds: string[]): Promise<void> {
  for (const id of clientIds) {
    if (!(await storage.clients.get(id))) throw invalidField('enabled_clients', `unknown client in enabled_clients: ${id}`);
  }
}

/** Upstream options are checked and their secret sealed; database options are kept as given. */
function storedOptions(
  secrets: Encrypter | undefined,
  connection: Pick<Connection, 'name' | 'strategy'>,
  options: Record<string, unknown>,
  previous?: Record<string, unknown>,
) {
  assertUpstreamOptions(connection.strategy, options);
  if (connection.strategy === 'auth0') return options;
  if (!secrets) throw new Error('An encrypter is needed to store upstream connection secrets');
  return sealOptions(secrets, connection.name, options, previous);
}

export async function createConnection(
  // Without transactions (the bootstrap of an empty database) there is nothing left over to delete.
  storage: Pick<Storage, 'clients' | 'connections'> & Partial<Pick<Storage, 'transaction'>>,
  input: ConnectionInput & { name: string; strategy: Connection['strategy'] },
  secrets?: Encrypter,
  now = new Date(),
): Promise<Connection> {
  await assertClientsExist(storage, input.enabled_clients ?? []);
  // Auth0's defaults for a new database connection: "good" passwords, brute-force protection on.
  const defaults = input.strategy === 'auth0' ? { passwordPolicy: 'good', brute_force_protection: true } : {};
  const connection: Connection = {
    id: newConnectionId(),
    name: input.name,
    ...(input.display_name !== undefined ? { display_name: input.display_name } : {}),
    strategy: input.strategy,
    options: storedOptions(secrets, input, { ...defaults, ...input.options }),
    enabled_clients: [...new Set(input.enabled_clients ?? [])],
    is_domain_connection: input.is_domain_connection ?? false,
    realms: input.realms ?? [input.name],
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
  };
  // Users a deletion of a connection of that name left behind (the process died midway) go first.
  if (storage.transaction && !(await storage.connections.getByName(connection.name))) {
    await deleteUsersLeftOn(storage as Pick<Storage, 'transaction'>, connection.name, now);
  }
  if (!(await storage.connections.insert(connection))) {
    throw conflict('A connection with the same name already exists', 'connection_exists');
  }
  return connection;
}

export async function getConnection(storage: Pick<Storage, 'connections'>, id: string): Promise<Connection> {
  const connection = await storage.connections.get(id);
  if (!connection) throw notFound('The connection does not exist', 'inexistent_connection');
  return connection;
}

/**
 * `options` is replaced as a whole, as Auth0 does: send the complete object. The connection is read
 * and written in one transaction holding it, so a change made meanwhile (its enabled clients set
 * by another request) is not written over with what this one read before it.
 */
export async function updateConnection(
  storage: Pick<Storage, 'transaction'>,
  id: string,
  patch: ConnectionInput,
  secrets?: Encrypter,
): Promise<Connection> {
  return storage.transaction(async (tx) => {
    const existing = await lockedConnection(tx, id);
    if (patch.name !== undefined && patch.name !== existing.name) {
      throw invalidField('name', "a connection's 'name' cannot be changed");
    }
    if (patch.strategy !== undefined && patch.strategy !== existing.strategy) {
      throw invalidField('strategy', "a connection's 'strategy' cannot be changed");
    }
    if (patch.enabled_clients) await assertClientsExist(tx, patch.enabled_clients);
    const connection: Connection = {
      ...existing,
      ...patch,
      ...(patch.options ? { options: storedOptions(secrets, existing, patch.options, existing.options) } : {}),
      ...(patch.enabled_clients ? { enabled_clients: [...new Set(patch.enabled_clients)] } : {}),
    };
    await tx.connections.update(connection);
    return connection;
  });
}

async function lockedConnection(tx: Pick<Repositories, 'connections'>, id: string): Promise<Connection> {
  const connection = await tx.connections.lock(id);
  if (!connection) throw notFound('The connection does not exist', 'inexistent_connection');
  return connection;
}

/**
 * Auth0's `PATCH /connections/{id}/clients`: each entry turns one client on (`status: true`) or off
 * for the connection; the others keep their state. auth0-deploy-cli sends a long list as chunks of
 * 50 in parallel, so each request changes the list as stored when it holds the connection, never
 * as it was when the request began (the chunks would write over one another's clients).
 */
export async function setEnabledClients(
  storage: Pick<Storage, 'transaction'>,
  id: string,
  changes: Array<{ client_id: string; status: boolean }>,
): Promise<Connection> {
  return storage.transaction(async (tx) => {
    const existing = await lockedConnection(tx, id);
    const enabled = new Set(existing.enabled_clients);
    await assertClientsExist(
      tx,
      changes.filter((c) => c.status && !enabled.has(c.client_id)).map((c) => c.client_id),
    );
    for (const { client_id, status } of changes) {
      if (status) enabled.add(client_id);
      else enabled.delete(client_id);
    }
    const connection: Connection = { ...existing, enabled_clients: [...enabled] };
    await tx.connections.update(connection);
    return connection;
  });
}

/** Users deleted per transaction when a connection goes: short enough for other requests to run between. */
const USER_BATCH = 500;

/**
 * Deleting a connection deletes its users with their cascades (as Auth0 does). The connection row goes
 * first, in its own transaction, so no sign-in or sign-up lands on it any more; then `deleteUsersLeftOn`
 * deletes its users in batches, each its own short transaction (SQLite's single connection serves other
 * requests between). Like Auth0, the Management API answers 202 once the row is gone and the users go in
 * the background: a connection of a million users outlasts any request timeout. Users left by a process
 * that stopped midway are finished at the next start (finishDeletedConnections), or by the next
 * connection created with that name, whichever comes first.
 */
export async function deleteConnection(storage: Pick<Storage, 'transaction'>, id: string): Promise<Connection | undefined> {
  return storage.transaction(async (tx) => {
    const found = await tx.connections.get(id);
    if (found) await tx.connections.delete(id);
    return found;
  });
}

/** Deletes, in batches, the users of a connection name that has no connection row; stops between batches on `signal`. */
export async function deleteUsersLeftOn(
  storage: Pick<Storage, 'transaction'>,
  name: string,
  now: Date,
  signal?: AbortSignal,
): Promise<void> {
  while (!signal?.aborted) {
    const more = await storage.transaction(async (tx) => {
      // Re-created meanwhile: its creation deleted what was left, and the users now there are its own.
      if (await tx.connections.getByName(name)) return false;
      const ids = await tx.users.listIdsOf(name, USER_BATCH);
      await deleteUsersWith(tx, ids, now);
      return ids.length === USER_BATCH;
    });
    if (!more) return;
  }
}

/** Deletes the users of connections whose deletion a stopped process left half done; run at start. */
export async function finishDeletedConnections(
  storage: Pick<Storage, 'transaction' | 'users' | 'connections'>,
  now: Date,
  signal?: AbortSignal,
): Promise<void> {
  for (const name of await storage.users.connectionNames()) {
    if (!(await storage.connections.getByName(name))) await deleteUsersLeftOn(storage, name, now, signal);
  }
}
