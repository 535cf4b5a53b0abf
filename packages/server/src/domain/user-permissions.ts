import type { ResourceServer, UserPermission } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { invalid, notFound } from './errors.js';
import { getUser } from './users.js';

/** A permission as the Management API names it. */
export interface PermissionRef {
  resource_server_identifier: string;
  permission_name: string;
}

export interface PresentedPermission extends PermissionRef {
  resource_server_name: string;
  description: string;
}

/** Looks each API up once per call, however many permissions name it. */
function apiLookup(storage: Pick<Storage, 'resourceServers'>): (identifier: string) => Promise<ResourceServer | undefined> {
  const apis = new Map<string, Promise<ResourceServer | undefined>>();
  return (identifier) => {
    let api = apis.get(identifier);
    if (!api) apis.set(identifier, (api = storage.resourceServers.getByIdentifier(identifier)));
    return api;
  };
}

/**
 * Each permission must be a scope its API defines, as Auth0 requires (for removal, `defined: false`,
 * only the API must exist); unknown APIs are 404.
 */
async function resolve(storage: Pick<Storage, 'resourceServers'>, refs: PermissionRef[], defined = true): Promise<UserPermission[]> {
  const apiOf = apiLookup(storage);
  const permissions: UserPermission[] = [];
  for (const ref of refs) {
    const identifier = ref.resource_server_identifier;
    const api = await apiOf(identifier);
    if (!api) throw notFound(`Resource server ${identifier} does not exist.`, 'inexistent_resource_server');
    if (defined && !api.scopes.some((s) => s.value === ref.permission_name)) {
      throw invalid(`Permission ${ref.permission_name} is not defined by resource server ${identifier}.`);
    }
    permissions.push({ audience: identifier, permission: ref.permission_name });
  }
  return permissions;
}

export async function assignUserPermissions(
  storage: Pick<Storage, 'permissions' | 'resourceServers' | 'users'>,
  userId: string,
  refs: PermissionRef[],
  now: Date,
): Promise<void> {
  await getUser(storage, userId);
  await storage.permissions.add(userId, await resolve(storage, refs), now.toISOString());
}

export async function removeUserPermissions(
  storage: Pick<Storage, 'permissions' | 'resourceServers' | 'users'>,
  userId: string,
  refs: PermissionRef[],
): Promise<void> {
  await getUser(storage, userId);
  await storage.permissions.remove(userId, await resolve(storage, refs, false));
}

/** The user's permissions with their API's name and the scope's description, as Auth0 lists them. */
export async function listUserPermissions(
  storage: Pick<Storage, 'permissions' | 'resourceServers' | 'users'>,
  userId: string,
): Promise<PresentedPermission[]> {
  await getUser(storage, userId);
  const apiOf = apiLookup(storage);
  const presented: PresentedPermission[] = [];
  for (const { audience, permission } of await storage.permissions.list(userId)) {
    const api = await apiOf(audience);
    // A scope since removed from its API grants nothing, so it is not listed either.
    const scope = api?.scopes.find((s) => s.value === permission);
    if (!api || !scope) continue;
    presented.push({
      permission_name: permission,
      description: scope.description ?? '',
      resource_server_name: api.name,
      resource_server_identifier: audience,
    });
  }
  return presented;
}
