import { type Kysely, sql } from 'kysely';
import type { Page, PageRequest, Role, User, UserPermission } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { RoleRepository } from '../types.js';
import { groupByAudience } from './permissions.js';
import { decodeCheckpoint, encodeCheckpoint, insertUnlessTaken } from './shared.js';

type RoleRow = { id: string; name: string; description: string | null };

const toRole = (row: RoleRow): Role => ({
  id: row.id,
  name: row.name,
  ...(row.description !== null ? { description: row.description } : {}),
});

export class KyselyRoles implements RoleRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async get(id: string): Promise<Role | undefined> {
    const row = await this.db.selectFrom('roles').select(['id', 'name', 'description']).where('id', '=', id).executeTakeFirst();
    return row && toRole(row);
  }

  async existingIds(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return (await this.db.selectFrom('roles').select('id').where('id', 'in', ids).execute()).map((r) => r.id);
  }

  async list(filter: { nameFilter?: string }, page: PageRequest & { kind: 'offset' }): Promise<Page<Role>> {
    let query = this.db.selectFrom('roles');
    if (filter.nameFilter) {
      // A substring test without LIKE, whose wildcards the filter would otherwise have to escape.
      const needle = filter.nameFilter.toLowerCase();
      const contains =
        this.dialect === 'postgres' ? sql<boolean>`strpos(name_lc, ${needle}) > 0` : sql<boolean>`instr(name_lc, ${needle}) > 0`;
      query = query.where(contains);
    }
    const rows = await query
      .select(['id', 'name', 'description'])
      .orderBy('name')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    if (!page.includeTotal) return { items: rows.map(toRole) };
    const total = await query.select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { items: rows.map(toRole), total: Number(total.n) };
  }

  insert(role: Role, now: string): Promise<boolean> {
    return insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('roles')
        .values({ id: role.id, name: role.name, name_lc: role.name.toLowerCase(), description: role.description ?? null, created_at: now })
        .execute(),
    );
  }

  async update(role: Role): Promise<boolean | 'conflict'> {
    let updated = false;
    const done = await insertUnlessTaken(this.db, async () => {
      const result = await this.db
        .updateTable('roles')
        .set({ name: role.name, name_lc: role.name.toLowerCase(), description: role.description ?? null })
        .where('id', '=', role.id)
        .executeTakeFirst();
      updated = result.numUpdatedRows > 0n;
    });
    return done ? updated : 'conflict';
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('roles').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async addPermissions(roleId: string, permissions: UserPermission[], now: string): Promise<void> {
    const rows = [...groupByAudience(permissions)].flatMap(([audience, names]) =>
      names.map((permission) => ({ role_id: roleId, audience, permission, created_at: now })),
    );
    if (rows.length === 0) return;
    await this.db
      .insertInto('role_permissions')
      .values(rows)
      .onConflict((oc) => oc.columns(['role_id', 'audience', 'permission']).doNothing())
      .execute();
  }

  async removePermissions(roleId: string, permissions: UserPermission[]): Promise<void> {
    // One `IN` list per API, as for users' permissions.
    for (const [audience, names] of groupByAudience(permissions)) {
      await this.db
        .deleteFrom('role_permissions')
        .where('role_id', '=', roleId)
        .where('audience', '=', audience)
        .where('permission', 'in', names)
        .execute();
    }
  }

  async removeAllPermissionsOf(roleId: string): Promise<void> {
    await this.db.deleteFrom('role_permissions').where('role_id', '=', roleId).execute();
  }

  async removePermissionsForApi(audience: string, permissions?: string[]): Promise<void> {
    if (permissions?.length === 0) return;
    let query = this.db.deleteFrom('role_permissions').where('audience', '=', audience);
    if (permissions) query = query.where('permission', 'in', permissions);
    await query.execute();
  }

  async listPermissions(roleId: string, page: PageRequest & { kind: 'offset' }): Promise<Page<UserPermission>> {
    const query = this.db.selectFrom('role_permissions').where('role_id', '=', roleId);
    const items = await query
      .select(['audience', 'permission'])
      .orderBy('audience')
      .orderBy('permission')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    if (!page.includeTotal) return { items };
    const total = await query.select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { items, total: Number(total.n) };
  }

  async assign(userIds: string[], roleIds: string[], now: string): Promise<void> {
    const rows = [...new Set(userIds)].flatMap((user_id) =>
      [...new Set(roleIds)].map((role_id) => ({ user_id, role_id, created_at: now })),
    );
    if (rows.length === 0) return;
    await this.db
      .insertInto('user_roles')
      .values(rows)
      .onConflict((oc) => oc.columns(['user_id', 'role_id']).doNothing())
      .execute();
  }

  async unassign(userId: string, roleIds: string[]): Promise<void> {
    if (roleIds.length === 0) return;
    await this.db.deleteFrom('user_roles').where('user_id', '=', userId).where('role_id', 'in', roleIds).execute();
  }

  async removeAllMembersOf(roleId: string): Promise<void> {
    await this.db.deleteFrom('user_roles').where('role_id', '=', roleId).execute();
  }

  async removeAllRolesOfMany(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.deleteFrom('user_roles').where('user_id', 'in', userIds).execute();
  }

  async listMembers(roleId: string, page: PageRequest): Promise<Page<User>> {
    const members = this.db
      .selectFrom('user_roles')
      .innerJoin('users', 'users.user_id', 'user_roles.user_id')
      .where('user_roles.role_id', '=', roleId);
    const rows = members
      .select(['users.data', 'user_roles.created_at', 'user_roles.user_id'])
      .orderBy('user_roles.created_at')
      .orderBy('user_roles.user_id');
    const parse = (list: Array<{ data: string }>) => list.map((r) => JSON.parse(r.data) as User);

    if (page.kind === 'checkpoint') {
      let query = rows;
      if (page.from !== undefined) {
        const [createdAt, userId] = decodeCheckpoint(page.from) ?? ['', ''];
        query = query.where((eb) =>
          eb.or([
            eb('user_roles.created_at', '>', createdAt),
            eb.and([eb('user_roles.created_at', '=', createdAt), eb('user_roles.user_id', '>', userId)]),
          ]),
        );
      }
      const found = await query.limit(page.take + 1).execute();
      const kept = found.slice(0, page.take);
      const last = kept[kept.length - 1];
      return { items: parse(kept), ...(found.length > page.take && last ? { next: encodeCheckpoint(last.created_at, last.user_id) } : {}) };
    }
    const found = await rows.limit(page.limit).offset(page.offset).execute();
    if (!page.includeTotal) return { items: parse(found) };
    const total = await members.select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { items: parse(found), total: Number(total.n) };
  }

  async listRolesOf(userId: string, page: PageRequest & { kind: 'offset' }): Promise<Page<Role>> {
    const held = this.db
      .selectFrom('user_roles')
      .innerJoin('roles', 'roles.id', 'user_roles.role_id')
      .where('user_roles.user_id', '=', userId);
    const rows = await held
      .select(['roles.id', 'roles.name', 'roles.description'])
      .orderBy('roles.name')
      .orderBy('roles.id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    if (!page.includeTotal) return { items: rows.map(toRole) };
    const total = await held.select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { items: rows.map(toRole), total: Number(total.n) };
  }
}
