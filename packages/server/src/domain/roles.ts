import type { Page, PageRequest, Role, User } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { conflict, notFound } from './errors.js';
import { newRoleId } from './ids.js';
import { type PermissionRef, type PresentedPermission, presentPermissions, resolvePermissions } from './user-permissions.js';
import { getUser, lockUser } from './users.js';

/**
 * RBAC roles, as Auth0's: a role names a set of API permissions (scopes the APIs define), and a user
 * holds the permissions of its roles besides its direct ones. Names are unique; deleting a role takes
 * its permissions and assignments along, in one transaction.
 */
export type RoleInput = { name: string; description?: string };

const roleExists = () => conflict('The role already exists.', 'role_exists');
const noSuchRole = () => notFound('The role does not exist.', 'inexistent_role');

export async function createRole(storage: Pick<Storage, 'roles'>, input: RoleInput, now: Date): Promise<Role> {
  const role: Role = { id: newRoleId(), name: input.name, ...(input.description !== undefined ? { description: input.description } : {}) };
  if (!(await storage.roles.insert(role, now.toISOString()))) throw roleExists();
  return role;
}

export async function getRole(storage: Pick<Storage, 'roles'>, id: string): Promise<Role> {
  const role = await storage.roles.get(id);
  if (!role) throw noSuchRole();
  return role;
}

/**
 * Every role is a tenant role: latchkey has no organizations, so Auth0's `type: organization` filter
 * (which auth0-deploy-cli's counterpart, `type: tenant`, sends) lists none.
 */
export async function listRoles(
  storage: Pick<Storage, 'roles'>,
  filter: { nameFilter?: string; type?: 'tenant' | 'organization' },
  page: PageRequest & { kind: 'offset' },
): Promise<Page<Role>> {
  if (filter.type === 'organization') return { items: [], ...(page.includeTotal ? { total: 0 } : {}) };
  return storage.roles.list({ nameFilter: filter.nameFilter }, page);
}

export async function updateRole(storage: Pick<Storage, 'roles'>, id: string, patch: Partial<RoleInput>): Promise<Role> {
  const role = { ...(await getRole(storage, id)), ...patch };
  const updated = await storage.roles.update(role);
  if (updated === 'conflict') throw roleExists();
  if (!updated) throw noSuchRole();
  return role;
}

/** Removes the role from every user and its permissions with it: the next token of its users lacks them. */
export async function deleteRole(storage: Pick<Storage, 'transaction'>, id: string): Promise<void> {
  await storage.transaction(async (tx) => {
    if (!(await tx.roles.delete(id))) throw noSuchRole();
    await tx.roles.removeAllPermissionsOf(id);
    await tx.roles.removeAllMembersOf(id);
  });
}

/** In one transaction with the APIs locked (see resolvePermissions). */
export async function addRolePermissions(storage: Pick<Storage, 'transaction'>, id: string, refs: PermissionRef[], now: Date) {
  await storage.transaction(async (tx) => {
    await getRole(tx, id);
    await tx.roles.addPermissions(id, await resolvePermissions(tx, refs), now.toISOString());
  });
}

export async function removeRolePermissions(storage: Pick<Storage, 'roles' | 'resourceServers'>, id: string, refs: PermissionRef[]) {
  await getRole(storage, id);
  await storage.roles.removePermissions(id, await resolvePermissions(storage, refs, false));
}

export async function listRolePermissions(
  storage: Pick<Storage, 'roles' | 'resourceServers'>,
  id: string,
  page: PageRequest & { kind: 'offset' },
): Promise<Page<PresentedPermission>> {
  await getRole(storage, id);
  const found = await storage.roles.listPermissions(id, page);
  return { ...found, items: (await presentPermissions(storage, found.items)).map((p) => p.presented) };
}

export async function listRoleUsers(storage: Pick<Storage, 'roles'>, id: string, page: PageRequest): Promise<Page<User>> {
  await getRole(storage, id);
  return storage.roles.listMembers(id, page);
}

/** Every user must exist (404 otherwise, and nobody gets the role); users who have it keep it. Locked: see lockIds. */
export async function assignRoleUsers(storage: Pick<Storage, 'transaction'>, id: string, userIds: string[], now: Date): Promise<void> {
  await storage.transaction(async (tx) => {
    await getRole(tx, id);
    const existing = new Set(await tx.users.lockIds(userIds));
    if (userIds.some((u) => !existing.has(u))) throw notFound('One or more of the users do not exist.', 'inexistent_user');
    await tx.roles.assign(userIds, [id], now.toISOString());
  });
}

export async function listUserRoles(
  storage: Pick<Storage, 'roles' | 'users'>,
  userId: string,
  page: PageRequest & { kind: 'offset' },
): Promise<Page<Role>> {
  await getUser(storage, userId);
  return storage.roles.listRolesOf(userId, page);
}

/** Every role must exist (404 otherwise, and none is assigned). */
export async function assignUserRoles(storage: Pick<Storage, 'transaction'>, userId: string, roleIds: string[], now: Date): Promise<void> {
  await storage.transaction(async (tx) => {
    await lockUser(tx, userId);
    const existing = new Set(await tx.roles.existingIds(roleIds));
    if (roleIds.some((r) => !existing.has(r))) throw notFound('One or more of the roles do not exist.', 'inexistent_role');
    await tx.roles.assign([userId], roleIds, now.toISOString());
  });
}

/** Roles the user does not hold (or that do not exist) are no error: there is nothing to remove. */
export async function removeUserRoles(storage: Pick<Storage, 'roles' | 'users'>, userId: string, roleIds: string[]): Promise<void> {
  await getUser(storage, userId);
  await storage.roles.unassign(userId, roleIds);
}
