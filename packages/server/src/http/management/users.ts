import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { withDefaultPicture } from '../../domain/default-picture.js';
import { assignUserRoles, listUserRoles, removeUserRoles } from '../../domain/roles.js';
import type { User } from '../../domain/types.js';
import { assignUserPermissions, listUserPermissions, removeUserPermissions } from '../../domain/user-permissions.js';
import { searchUsers } from '../../domain/user-search.js';
import { createUser, deleteUser, getUser, presentUser, updateUser } from '../../domain/users.js';
import { sendVerificationMail } from '../../login/account-mail.js';
import {
  FieldsQuery,
  listBody,
  type ManagementApp,
  OffsetPagingQuery,
  offsetPageRequest,
  PagingQuery,
  pageRequest,
  project,
} from './plugin.js';
import { Id, IdList, IdParam, Metadata, Name, OptionalFields, PermissionsBody, Strict, Url } from './schemas.js';

const Profile = {
  email: Type.String({ minLength: 3, maxLength: 254 }),
  email_verified: Type.Boolean(),
  verify_email: Type.Boolean(),
  username: Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9_+\\-.!#$'^`~@]+$" }),
  phone_number: Type.String({ minLength: 1, maxLength: 32 }),
  name: Id,
  nickname: Id,
  picture: Url,
  given_name: Type.String({ minLength: 1, maxLength: 150 }),
  family_name: Type.String({ minLength: 1, maxLength: 150 }),
  blocked: Type.Boolean(),
  app_metadata: Metadata,
  user_metadata: Metadata,
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  connection: Name,
};

const CreateBody = Strict({
  ...OptionalFields({
    ...Profile,
    user_id: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_-]+$' }),
    password_hash: Type.String({ minLength: 1, maxLength: 100 }),
  }),
  connection: Name,
});
const UpdateBody = Strict(OptionalFields(Profile));

export async function userRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;
  // Offset paging only, as Auth0 pages these lists (built here: plugin.ts imports this module).
  const OffsetQuery = Strict(OffsetPagingQuery());
  const now = () => new Date(ctx.now());
  // Auth0 shows every user with a picture: the default one when none was set.
  const present = (request: FastifyRequest) => (user: User) =>
    presentUser(withDefaultPicture(user, ctx.pictures), ctx.secrets, request.managementScopes?.includes('read:user_idp_tokens') === true);

  const SearchQuery = {
    q: Type.Optional(Type.String({ maxLength: 2048 })),
    sort: Type.Optional(Type.String({ maxLength: 64 })),
    connection: Type.Optional(Name),
    search_engine: Type.Optional(Type.Union([Type.Literal('v1'), Type.Literal('v2'), Type.Literal('v3')])),
  };
  app.get(
    '/users',
    { config: { scope: 'read:users' }, schema: { querystring: Strict({ ...PagingQuery, ...FieldsQuery, ...SearchQuery }) } },
    async (request) => {
      const { q, sort, connection } = request.query;
      const pageReq = pageRequest(request.query);
      if (q === undefined && sort === undefined && connection === undefined) {
        const page = await storage.users.list(pageReq);
        return listBody('users', { ...page, items: page.items.map(present(request)) }, pageReq, request.query);
      }
      const found = await searchUsers(storage, { q, sort, connection }, pageReq);
      return listBody('users', { ...found, items: found.items.map(present(request)) }, pageReq, request.query);
    },
  );

  // Auth0's exact-match lookup across connections (emails compared case-insensitively).
  app.get(
    '/users-by-email',
    {
      config: { scope: 'read:users' },
      schema: { querystring: Strict({ email: Type.String({ minLength: 1, maxLength: 254 }), ...FieldsQuery }) },
    },
    async (request) => (await storage.users.listByEmail(request.query.email)).map((user) => project(present(request)(user), request.query)),
  );

  app.post('/users', { config: { scope: 'create:users' }, schema: { body: CreateBody } }, async (request, reply) => {
    const user = await createUser(storage, request.body, now());
    // Auth0's verify_email: the new user gets the verification mail.
    if (request.body.verify_email === true && !user.email_verified) await sendVerificationMail(ctx, user);
    return reply.status(201).send(present(request)(user));
  });

  app.get(
    '/users/:id',
    { config: { scope: 'read:users' }, schema: { params: IdParam, querystring: Strict(FieldsQuery) } },
    async (request) => project(present(request)((await getUser(storage, request.params.id)).user), request.query),
  );

  app.patch('/users/:id', { config: { scope: 'update:users' }, schema: { params: IdParam, body: UpdateBody } }, async (request) => {
    const user = await updateUser(storage, request.params.id, request.body, now());
    // Auth0's verify_email with a new address: the verification mail goes to the new address.
    if (request.body.verify_email === true && request.body.email !== undefined && !user.email_verified) {
      await sendVerificationMail(ctx, user);
    }
    return present(request)(user);
  });

  // RBAC: every permission the user holds, assigned directly or through its roles, with its `sources`.
  app.get(
    '/users/:id/permissions',
    { config: { scope: 'read:users' }, schema: { params: IdParam, querystring: OffsetQuery } },
    async (request) => {
      const all = await listUserPermissions(storage, request.params.id);
      const pageReq = offsetPageRequest(request.query);
      const items = all.slice(pageReq.offset, pageReq.offset + pageReq.limit);
      return listBody('permissions', { items, total: all.length }, pageReq, {});
    },
  );

  // The user's roles (the roles themselves are in roles.ts). Scopes as Auth0's.
  app.get(
    '/users/:id/roles',
    { config: { scope: [['read:users', 'read:roles'], 'read:role_members'] }, schema: { params: IdParam, querystring: OffsetQuery } },
    async (request) => {
      const pageReq = offsetPageRequest(request.query);
      return listBody('roles', await listUserRoles(storage, request.params.id, pageReq), pageReq, {});
    },
  );

  app.post(
    '/users/:id/roles',
    { config: { scope: ['update:users', 'create:role_members'] }, schema: { params: IdParam, body: Strict({ roles: IdList }) } },
    async (request, reply) => {
      await assignUserRoles(storage, request.params.id, request.body.roles, now());
      return reply.status(204).send();
    },
  );

  app.delete(
    '/users/:id/roles',
    { config: { scope: ['update:users', 'delete:role_members'] }, schema: { params: IdParam, body: Strict({ roles: IdList }) } },
    async (request, reply) => {
      await removeUserRoles(storage, request.params.id, request.body.roles);
      return reply.status(204).send();
    },
  );

  app.post(
    '/users/:id/permissions',
    { config: { scope: 'update:users' }, schema: { params: IdParam, body: PermissionsBody } },
    async (request, reply) => {
      await assignUserPermissions(storage, request.params.id, request.body.permissions, now());
      return reply.status(201).send();
    },
  );

  app.delete(
    '/users/:id/permissions',
    { config: { scope: 'update:users' }, schema: { params: IdParam, body: PermissionsBody } },
    async (request, reply) => {
      await removeUserPermissions(storage, request.params.id, request.body.permissions);
      return reply.status(204).send();
    },
  );

  app.delete('/users/:id', { config: { scope: 'delete:users' }, schema: { params: IdParam } }, async (request, reply) => {
    await deleteUser(storage, request.params.id, now());
    return reply.status(204).send();
  });
}
