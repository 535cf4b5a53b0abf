import type { Connection, Storage } from '../storage/types.js';
import { badRequest, conflict, notFound } from './errors.js';
import { newConnectionId } from './ids.js';

export const DEFAULT_DATABASE_CONNECTION = 'Username-Password-Authentication';

export type ConnectionInput = Partial<Omit<Connection, 'id'>>;

async function assertClientsExist(storage: Storage, clientIds: string[]): Promise<void> {
  for (const id of clientIds) {
    if (!(await storage.getClient(id))) throw badRequest(`Payload validation error: unknown client in enabled_clients: ${id}`);
  }
}

export async function createConnection(
  storage: Storage,
  input: ConnectionInput & { name: string; strategy: Connection['strategy'] },
): Promise<Connection> {
  await assertClientsExist(storage, input.enabled_clients ?? []);
  const connection: Connection = {
    id: newConnectionId(),
    name: input.name,
    ...(input.display_name !== undefined ? { display_name: input.display_name } : {}),
    strategy: input.strategy,
    // Auth0's defaults for a new database connection: "good" passwords, brute-force protection on.
    options: { passwordPolicy: 'good', brute_force_protection: true, ...input.options },
    enabled_clients: [...new Set(input.enabled_clients ?? [])],
    is_domain_connection: input.is_domain_connection ?? false,
    realms: input.realms ?? [input.name],
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
  };
  if (!(await storage.insertConnection(connection))) {
    throw conflict('A connection with the same name already exists', 'connection_exists');
  }
  return connection;
}

export async function getConnection(storage: Storage, id: string): Promise<Connection> {
  const connection = await storage.getConnection(id);
  if (!connection) throw notFound('The connection does not exist', 'inexistent_connection');
  return connection;
}

/** `options` is replaced as a whole, as Auth0 does: send the complete object. */
export async function updateConnection(storage: Storage, id: string, patch: ConnectionInput): Promise<Connection> {
  const existing = await getConnection(storage, id);
  if (patch.name !== undefined && patch.name !== existing.name) {
    throw badRequest("Payload validation error: a connection's 'name' cannot be changed");
  }
  if (patch.strategy !== undefined && patch.strategy !== existing.strategy) {
    throw badRequest("Payload validation error: a connection's 'strategy' cannot be changed");
  }
  if (patch.enabled_clients) await assertClientsExist(storage, patch.enabled_clients);
  const connection: Connection = {
    ...existing,
    ...patch,
    ...(patch.enabled_clients ? { enabled_clients: [...new Set(patch.enabled_clients)] } : {}),
  };
  await storage.updateConnection(connection);
  return connection;
}

export async function deleteConnection(storage: Storage, id: string): Promise<void> {
  await storage.deleteConnection(id);
}
