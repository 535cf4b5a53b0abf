import type { ClientGrant } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { conflict, forbidden, invalidField, notFound } from './errors.js';
import { newClientGrantId } from './ids.js';

async function assertScopesExist(
  storage: Pick<Storage, 'resourceServers'>,
  audience: string,
  scope: string[],
  lock = false,
): Promise<void> {
  const api = await (lock ? storage.resourceServers.lockByIdentifier(audience) : storage.resourceServers.getByIdentifier(audience));
  if (!api) throw notFound(`No resource server found by audience ${audience}`, 'inexistent_resource_server');
  const known = new Set(api.scopes.map((s) => s.value));
  const unknown = scope.filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw invalidField('scope', `scopes not defined by the API ${audience}: ${unknown.join(', ')}`);
  }
}

/**
 * In one transaction holding the API (lockByIdentifier): an API deleted at the same time would otherwise
 * miss this grant, and an API created again under that identifier would find its client granted.
 */
export async function createClientGrant(
  storage: Pick<Storage, 'transaction'>,
  input: { client_id: string; audience: string; scope: string[] },
): Promise<ClientGrant> {
  return storage.transaction(async (tx) => {
    if (!(await tx.clients.get(input.client_id))) throw notFound('The client does not exist', 'inexistent_client');
    await assertScopesExist(tx, input.audience, input.scope, true);
    const grant: ClientGrant = { id: newClientGrantId(), ...input, scope: [...new Set(input.scope)] };
    if (!(await tx.clientGrants.insert(grant))) {
      throw conflict('A client grant for this client and audience already exists', 'conflict');
    }
    return grant;
  });
}

async function existingGrant(storage: Pick<Storage, 'clientGrants'>, id: string): Promise<ClientGrant> {
  const grant = await storage.clientGrants.get(id);
  if (!grant) throw notFound('The client grant does not exist', 'inexistent_client_grant');
  return grant;
}

/** The bootstrap admin must keep its way into the Management API, or the tenant is locked. */
async function assertNotSystemGrant(storage: Pick<Storage, 'clients'>, grant: ClientGrant): Promise<void> {
  if ((await storage.clients.get(grant.client_id))?.client.is_system) {
    throw forbidden("The bootstrap admin client's grant cannot be changed or deleted");
  }
}

export async function updateClientGrant(
  storage: Pick<Storage, 'clientGrants' | 'clients' | 'resourceServers'>,
  id: string,
  patch: { scope?: string[] },
): Promise<ClientGrant> {
  const existing = await existingGrant(storage, id);
  await assertNotSystemGrant(storage, existing);
  const grant = { ...existing, ...(patch.scope ? { scope: [...new Set(patch.scope)] } : {}) };
  await assertScopesExist(storage, grant.audience, grant.scope);
  await storage.clientGrants.update(grant);
  return grant;
}

export async function deleteClientGrant(storage: Pick<Storage, 'clientGrants' | 'clients'>, id: string): Promise<void> {
  const grant = await storage.clientGrants.get(id);
  if (!grant) return;
  await assertNotSystemGrant(storage, grant);
  await storage.clientGrants.delete(id);
}
