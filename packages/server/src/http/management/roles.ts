import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { withDefaultPicture } from '../../domain/default-picture.js';
import {
  addRolePermissions,
  assignRoleUsers,
  createRole,
  deleteRole,
  getRole,
  listRolePermissions,
  listRoles,
  listRoleUsers,
  removeRolePermissions,
  updateRole,
} from '../../domain/roles.js';
import type { User } from '../../domain/types.js';
import { listBody, type ManagementApp, OffsetPagingQuery, offsetPageRequest, PagingQuery, pageRequest } from './plugin.js';
import { Id, IdList, IdParam, OptionalFields, PermissionsBody, Strict, StringEnum } from './schemas.js';

const RoleFields = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  description: Type.String({ maxLength: 255 }),
};

/**
 * Auth0's /api/v2/roles, with its status codes (which differ from the other resources': creating a
 * role is 200, deleting one 200, adding permissions 201, assigning users 200) and its scopes.
 * A user's roles (/users/{id}/roles) are in users.ts.
 */
export async function roleRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;
  const now = () => new Date(ctx.now());
  const OffsetQuery = OffsetPagingQuery();

  app.get(
    '/roles',
    {
      config: { scope: 'read:roles' },
      schema: {
        querystring: Strict({
          ...OffsetQuery,
          name_filter: Type.Optional(Type.String({ maxLength: 128 })),
          type: Type.Optional(StringEnum(['tenant', 'organization'])),
          owner_id: Type.Optional(Id),
        }),
      },
    },
    async (request) => {
      const { name_filter: nameFilter, type } = request.query;
      const pageReq = offsetPageRequest(request.query);
      return listBody('roles', await listRoles(storage, { nameFilter, type }, pageReq), pageReq, {});
    },
  );

  app.post(
    '/roles',
    {
      config: { scope: 'create:roles' },
      schema: { body: Strict({ name: RoleFields.name, description: Type.Optional(RoleFields.description) }) },
    },
    async (request) => createRole(storage, request.body, now()),
  );

  app.get('/roles/:id', { config: { scope: 'read:roles' }, schema: { params: IdParam } }, async (request) =>
    getRole(storage, request.params.id),
  );

  app.patch(
    '/roles/:id',
    { config: { scope: 'update:roles' }, schema: { params: IdParam, body: Strict(OptionalFields(RoleFields)) } },
    async (request) => updateRole(storage, request.params.id, request.body),
  );

  app.delete('/roles/:id', { config: { scope: 'delete:roles' }, schema: { params: IdParam } }, async (request, reply) => {
    await deleteRole(storage, request.params.id);
    return reply.status(200).send();
  });

  app.get(
    '/roles/:id/permissions',
    { config: { scope: 'read:roles' }, schema: { params: IdParam, querystring: Strict(OffsetQuery) } },
    async (request) => {
      const pageReq = offsetPageRequest(request.query);
      return listBody('permissions', await listRolePermissions(storage, request.params.id, pageReq), pageReq, {});
    },
  );

  app.post(
    '/roles/:id/permissions',
    { config: { scope: 'update:roles' }, schema: { params: IdParam, body: PermissionsBody } },
    async (request, reply) => {
      await addRolePermissions(storage, request.params.id, request.body.permissions, now());
      return reply.status(201).send();
    },
  );

  app.delete(
    '/roles/:id/permissions',
    { config: { scope: 'update:roles' }, schema: { params: IdParam, body: PermissionsBody } },
    async (request, reply) => {
      await removeRolePermissions(storage, request.params.id, request.body.permissions);
      return reply.status(200).send();
    },
  );

  // Offset paging, or checkpoint paging with from/take (the v7 SDK sends take=50): Auth0 offers both here.
  const member = (user: User) => {
    const { user_id, picture, name, email } = withDefaultPicture(user, ctx.pictures);
    return { user_id, ...(picture ? { picture } : {}), ...(name ? { name } : {}), ...(email ? { email } : {}) };
  };
  app.get(
    '/roles/:id/users',
    {
      config: { scope: [['read:users', 'read:roles'], 'read:role_members'] },
      schema: { params: IdParam, querystring: Strict(PagingQuery) },
    },
    async (request) => {
      const pageReq = pageRequest(request.query);
      return listBody('users', await listRoleUsers(storage, request.params.id, pageReq), pageReq, {}, member);
    },
  );

  app.post(
    '/roles/:id/users',
    { config: { scope: ['update:roles', 'create:role_members'] }, schema: { params: IdParam, body: Strict({ users: IdList }) } },
    async (request, reply) => {
      await assignRoleUsers(storage, request.params.id, request.body.users, now());
      return reply.status(200).send();
    },
  );
}
