import type { ResourceServer, Storage, UserPermission } from '../storage/types.js';
import { badRequest, notFound } from './errors.js';
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

/**
 * Each permission must be a scope its API defines, as Auth0 requires (for removal, `defined: false`,
 * only the API must exist); unknown APIs are 404.
 */
async function resolve(storage: Storage, refs: PermissionRef[], defined = true): Promise<UserPermission[]> {
  const apis = new Map<string, ResourceServer | undefined>();
  const permissions: UserPermission[] = [];
  for (const ref of refs) {
    const identifier = ref.resource_server_identifier;
    if (!apis.has(identifier)) apis.set(identifier, await storage.getResourceServerByIdentifier(identifier));
    const api = apis.get(identifier);
    if (!api) throw notFound(`Resource server ${identifier} does not exist.`, 'inexistent_resource_server');
    if (defined && !api.scopes.some((s) => s.value === ref.permission_name)) {
      throw badRequest(`Permission ${ref.permission_name} is not defined by resource server ${identifier}.`);
    }
    permissions.push({ audience: identifier, permission: ref.permission_name });
  }
  return permissions;
}

export async function assignUserPermissions(storage: Storage, userId: string, refs: PermissionRef[], now: Date): Promise<void> {
  await getUser(storage, userId);
  await storage.addUserPermissions(userId, await resolve(storage, refs), now.toISOString());
}

export async function removeUserPermissions(storage: Storage, userId: string, refs: PermissionRef[]): Promise<void> {
  await getUser(storage, userId);
  await storage.removeUserPermissions(userId, await resolve(storage, refs, false));
}

/** The user's permissions with their API's name and the scope's description, as Auth0 lists them. */
export async function listUserPermissions(storage: Storage, userId: string): Promise<PresentedPermission[]> {
  await getUser(storage, userId);
  const apis = new Map<string, ResourceServer | undefined>();
  const presented: PresentedPermission[] = [];
  for (const { audience, permission } of await storage.listUserPermissions(userId)) {
    if (!apis.has(audience)) apis.set(audience, await storage.getResourceServerByIdentifier(audience));
    // A scope since removed from its API grants nothing, so it is not listed either.
    const scope = apis.get(audience)?.scopes.find((s) => s.value === permission);
    if (!scope) continue;
    presented.push({
      permission_name: permission,
      description: scope.description ?? '',
      resource_server_name: apis.get(audience)!.name,
      resource_server_identifier: audience,
    });
  }
  return presented;
}
