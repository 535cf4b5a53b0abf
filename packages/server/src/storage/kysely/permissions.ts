import { type Kysely, sql } from 'kysely';
import type { HeldPermission, UserPermission } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { PermissionRepository } from '../types.js';

/** Permissions by API, each name once. */
export function groupByAudience(permissions: UserPermission[]): Map<string, string[]> {
  const byAudience = new Map<string, Set<string>>();
  for (const { audience, permission } of permissions) {
    let names = byAudience.get(audience);
    if (!names) byAudience.set(audience, (names = new Set()));
    names.add(permission);
  }
  return new Map([...byAudience].map(([audience, names]) => [audience, [...names]]));
}

export class KyselyPermissions implements PermissionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async add(userId: string, permissions: UserPermission[], now: string): Promise<void> {
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

  async remove(userId: string, permissions: UserPermission[]): Promise<void> {
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

  async removeAllOf(userId: string): Promise<void> {
    await this.db.deleteFrom('user_permissions').where('user_id', '=', userId).execute();
  }

  async removeAllOfMany(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.deleteFrom('user_permissions').where('user_id', 'in', userIds).execute();
  }

  async removeForApi(audience: string, permissions?: string[]): Promise<void> {
    if (permissions?.length === 0) return;
    let query = this.db.deleteFrom('user_permissions').where('audience', '=', audience);
    if (permissions) query = query.where('permission', 'in', permissions);
    await query.execute();
  }

  async list(userId: string, audience?: string): Promise<UserPermission[]> {
    let query = this.db.selectFrom('user_permissions').select(['audience', 'permission']).where('user_id', '=', userId);
    if (audience !== undefined) query = query.where('audience', '=', audience);
    return query.orderBy('audience').orderBy('permission').execute();
  }

  async listHeld(userId: string, audience?: string): Promise<HeldPermission[]> {
    // One statement for both ways of holding a permission: it runs at every token issue.
    let direct = this.db
      .selectFrom('user_permissions')
      .select(['audience', 'permission', sql<string | null>`null`.as('role_id'), sql<string | null>`null`.as('role_name')])
      .where('user_id', '=', userId);
    let viaRoles = this.db
      .selectFrom('user_roles')
      .innerJoin('role_permissions', 'role_permissions.role_id', 'user_roles.role_id')
      .innerJoin('roles', 'roles.id', 'user_roles.role_id')
      .select(['role_permissions.audience', 'role_permissions.permission', 'roles.id as role_id', 'roles.name as role_name'])
      .where('user_roles.user_id', '=', userId);
    if (audience !== undefined) {
      direct = direct.where('audience', '=', audience);
      viaRoles = viaRoles.where('role_permissions.audience', '=', audience);
    }
    const rows = await direct.unionAll(viaRoles).orderBy('audience').orderBy('permission').orderBy('role_name').execute();
    return rows.map(({ audience, permission, role_id, role_name }) => ({
      audience,
      permission,
      ...(role_id !== null && role_name !== null ? { role: { id: role_id, name: role_name } } : {}),
    }));
  }
}
