import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import {
  createConnection,
  deleteConnection,
  deleteUsersLeftOn,
  getConnection,
  setEnabledClients,
  updateConnection,
} from '../../domain/connections.js';
import type { Connection } from '../../domain/types.js';
import { presentOptions } from '../../domain/upstream-options.js';
import { checkConnectionOptions } from './connection-options.js';
import { FieldsQuery, listBody, type ManagementApp, PagingQuery, pageRequest, project } from './plugin.js';
import { Id, IdParam, Name, OptionalFields, Strict, StringMap } from './schemas.js';

const Fields = {
  display_name: Type.String({ maxLength: 128 }),
  // Checked by the connection's strategy, in the handler (connection-options.ts): a PATCH names no strategy.
  options: Type.Record(Type.String({ maxLength: 255 }), Type.Unknown(), { maxProperties: 100 }),
  enabled_clients: Type.Array(Id, { maxItems: 1000 }),
  is_domain_connection: Type.Boolean(),
  realms: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 10 }),
  metadata: StringMap,
};

const ConnectionName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$' });

const CreateBody = Strict({
  name: ConnectionName,
  strategy: Type.Union([Type.Literal('auth0'), Type.Literal('oauth2'), Type.Literal('oidc')]),
  ...OptionalFields(Fields),
});
const UpdateBody = Strict(OptionalFields(Fields));

export async function connectionRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;
  // Upstream client secrets are shown only to tokens with read:connections_options, as in Auth0.
  const present = (request: FastifyRequest) => (connection: Connection) =>
    presentOptions(ctx.secrets, connection, request.managementScopes?.includes('read:connections_options') === true);

  app.get(
    '/connections',
    {
      config: { scope: 'read:connections' },
      schema: {
        querystring: Strict({
          ...PagingQuery,
          ...FieldsQuery,
          strategy: Type.Optional(Type.String({ maxLength: 64 })),
          name: Type.Optional(Name),
        }),
      },
    },
    async (request) => {
      const { strategy, name } = request.query;
      const pageReq = pageRequest(request.query);
      const page = await storage.connections.list({ strategy, name }, pageReq);
      return listBody('connections', { ...page, items: page.items.map(present(request)) }, pageReq, request.query);
    },
  );

  app.post('/connections', { config: { scope: 'create:connections' }, schema: { body: CreateBody } }, async (request, reply) => {
    checkConnectionOptions(request.body.strategy, request.body.options ?? {});
    return reply.status(201).send(present(request)(await createConnection(storage, request.body, ctx.secrets, new Date(ctx.now()))));
  });

  app.get(
    '/connections/:id',
    { config: { scope: 'read:connections' }, schema: { params: IdParam, querystring: Strict(FieldsQuery) } },
    async (request) => project(present(request)(await getConnection(storage, request.params.id)), request.query),
  );

  app.patch(
    '/connections/:id',
    { config: { scope: 'update:connections' }, schema: { params: IdParam, body: UpdateBody } },
    async (request) => {
      if (request.body.options) checkConnectionOptions((await getConnection(storage, request.params.id)).strategy, request.body.options);
      return present(request)(await updateConnection(storage, request.params.id, request.body, ctx.secrets));
    },
  );

  // Auth0's enabled-clients resource, paged by checkpoint only (`from` is an offset here: the list
  // is one bounded array on the connection). auth0-deploy-cli reads and sets enabled clients here.
  app.get(
    '/connections/:id/clients',
    {
      config: { scope: 'read:connections' },
      schema: {
        params: IdParam,
        querystring: Strict({
          take: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          from: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
        }),
      },
    },
    async (request) => {
      const { enabled_clients } = await getConnection(storage, request.params.id);
      const from = Number(request.query.from ?? 0);
      const take = request.query.take ?? 50;
      const clients = enabled_clients.slice(from, from + take).map((client_id) => ({ client_id }));
      return { clients, ...(from + take < enabled_clients.length ? { next: String(from + take) } : {}) };
    },
  );

  app.patch(
    '/connections/:id/clients',
    {
      config: { scope: 'update:connections' },
      schema: { params: IdParam, body: Type.Array(Strict({ client_id: Id, status: Type.Boolean() }), { minItems: 1, maxItems: 50 }) },
    },
    async (request, reply) => {
      await setEnabledClients(storage, request.params.id, request.body);
      return reply.status(204).send();
    },
  );

  app.delete('/connections/:id', { config: { scope: 'delete:connections' }, schema: { params: IdParam } }, async (request, reply) => {
    const deleted = await deleteConnection(storage, request.params.id);
    if (deleted) {
      ctx.background.run(
        (signal) => deleteUsersLeftOn(storage, deleted.name, new Date(ctx.now()), signal),
        (err) => request.log.error({ err, connection: deleted.name }, 'deleting the users of a deleted connection failed'),
      );
    }
    // Auth0: "The connection is being deleted"; its users go in the background.
    return reply.status(202).send();
  });
}
