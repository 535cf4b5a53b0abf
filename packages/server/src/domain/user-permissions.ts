import type { HeldPermission, ResourceServer, UserPermission } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { invalid, notFound } from './errors.js';
import { getUser, lockUser } from './users.js';

/** A permission as the Management API names it (users' and roles' permissions alike). */
export interface PermissionRef {
  resource_server_identifier: string;
  permission_name: string;
}

export interface PresentedPermission extends PermissionRef {
  resource_server_name: string;
  description: string;
}

/** Where a user's permission comes from, as Auth0 lists it: `DIRECT`, or the `ROLE` named. */
export interface PermissionSource {
  source_id: string;
  source_name: string;
  source_type: 'DIRECT' | 'ROLE';
}

/** Looks each API up once per call, however many permissions name it; `lock` holds each until the transaction ends. */
function apiLookup(storage: Pick<Storage, 'resourceServers'>, lock = false): (identifier: string) => Promise<ResourceServer | undefined> {
  const apis = new Map<string, Promise<ResourceServer | undefined>>();
  return (identifier) => {
    let api = apis.get(identifier);
    if (!api) {
      api = lock ? storage.resourceServers.lockByIdentifier(identifier) : storage.resourceServers.getByIdentifier(identifier);
      apis.set(identifier, api);
    }
    return api;
  };
}

/**
 * Each permission must be a scope its API defines, as Auth0 requires (for removal, `defined: false`,
 * only the API must exist); unknown APIs are 404. Shared by users' and roles' permissions. When
 * granting, the APIs are locked (`tx` repositories only): an API deleted, or a scope taken off it, at
 * the same time would otherwise miss the permissions written here, and an API created again under
 * that identifier would find them held.
 */
export async function resolvePermissions(
  storage: Pick<Storage, 'resourceServers'>,
  refs: PermissionRef[],
  defined = true,
): Promise<UserPermission[]> {
  const apiOf = apiLookup(storage, defined);
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

/**
 * Permissions with their API's name and the scope's description, as Auth0 lists them. A scope since
 * removed from its API grants nothing, so it is not listed either.
 */
export async function presentPermissions<T extends UserPermission>(
  storage: Pick<Storage, 'resourceServers'>,
  permissions: T[],
): Promise<Array<{ held: T; presented: PresentedPermission }>> {
  const apiOf = apiLookup(storage);
  const presented: Array<{ held: T; presented: PresentedPermission }> = [];
  for (const held of permissions) {
    const api = await apiOf(held.audience);
    const scope = api?.scopes.find((s) => s.value === held.permission);
    if (!api || !scope) continue;
    presented.push({
      held,
      presented: {
        permission_name: held.permission,
        description: scope.description ?? '',
        resource_server_name: api.name,
        resource_server_identifier: held.audience,
      },
    });
  }
  return presented;
}

export async function assignUserPermissions(
  storage: Pick<Storage, 'transaction'>,
  userId: string,
  refs: PermissionRef[],
  now: Date,
): Promise<void> {
  await storage.transaction(async (tx) => {
    await lockUser(tx, userId);
    await tx.permissions.add(userId, await resolvePermissions(tx, refs), now.toISOString());
  });
}

export async function removeUserPermissions(
  storage: Pick<Storage, 'permissions' | 'resourceServers' | 'users'>,
  userId: string,
  refs: PermissionRef[],
): Promise<void> {
  await getUser(storage, userId);
  await storage.permissions.remove(userId, await resolvePermissions(storage, refs, false));
}

/**
 * Every permission the user holds, directly or through its roles, once each with its `sources`
 * (Auth0's GET /users/{id}/permissions), by API and name.
 */
export async function listUserPermissions(
  storage: Pick<Storage, 'permissions' | 'resourceServers' | 'users'>,
  userId: string,
): Promise<Array<PresentedPermission & { sources: PermissionSource[] }>> {
  await getUser(storage, userId);
  const byName = new Map<string, HeldPermission[]>();
  for (const held of await storage.permissions.listHeld(userId)) {
    const key = JSON.stringify([held.audience, held.permission]);
    const ways = byName.get(key);
    if (ways) ways.push(held);
    else byName.set(key, [held]);
  }
  const presented = await presentPermissions(
    storage,
    [...byName.values()].map((ways) => ({ ...ways[0]!, ways })),
  );
  return presented.map(({ held, presented }) => ({
    ...presented,
    sources: held.ways
      .map((way): PermissionSource => (way.role ? { source_id: way.role.id, source_name: way.role.name, source_type: 'ROLE' } : DIRECT))
      .sort((a, b) => (a.source_type === b.source_type ? a.source_name.localeCompare(b.source_name) : a.source_type === 'DIRECT' ? -1 : 1)),
  }));
}

const DIRECT: PermissionSource = { source_id: '', source_name: '', source_type: 'DIRECT' };

/** The names of the permissions the user holds on the API, directly or through roles: one query, at every token issue. */
export async function heldPermissionNames(storage: Pick<Storage, 'permissions'>, userId: string, audience: string): Promise<string[]> {
  return [...new Set((await storage.permissions.listHeld(userId, audience)).map((p) => p.permission))];
}
