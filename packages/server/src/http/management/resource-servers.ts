import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { createResourceServer, deleteResourceServer, getResourceServer, updateResourceServer } from '../../domain/resource-servers.js';
import { FieldsQuery, listBody, type ManagementApp, PagingQuery, pageRequest, project } from './plugin.js';
import { IdParam, Name, OptionalFields, Strict, StringEnum } from './schemas.js';

const Fields = {
  name: Name,
  scopes: Type.Array(
    Strict({ value: Type.String({ minLength: 1, maxLength: 280 }), description: Type.Optional(Type.String({ maxLength: 500 })) }),
    { maxItems: 1000 },
  ),
  signing_alg: Type.Literal('RS256'),
  allow_offline_access: Type.Boolean(),
  skip_consent_for_verifiable_first_party_clients: Type.Boolean(),
  token_lifetime: Type.Integer({ minimum: 1, maximum: 2592000 }),
  token_lifetime_for_web: Type.Integer({ minimum: 1, maximum: 2592000 }),
  token_dialect: StringEnum(['access_token', 'access_token_authz', 'rfc9068_profile', 'rfc9068_profile_authz'] as const),
  enforce_policies: Type.Boolean(),
};

const CreateBody = Strict({ identifier: Type.String({ minLength: 1, maxLength: 600 }), ...OptionalFields(Fields) });
const UpdateBody = Strict(OptionalFields({ ...Fields, identifier: Type.String({ minLength: 1, maxLength: 600 }) }));

export async function resourceServerRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;

  app.get(
    '/resource-servers',
    {
      config: { scope: 'read:resource_servers' },
      schema: {
        querystring: Strict({
          ...PagingQuery,
          ...FieldsQuery,
          identifiers: Type.Optional(Type.Array(Type.String({ maxLength: 600 }), { maxItems: 100 })),
        }),
      },
    },
    async (request) => {
      const pageReq = pageRequest(request.query);
      const { identifiers } = request.query;
      const page = await storage.resourceServers.list(pageReq, identifiers ? { identifiers } : {});
      return listBody('resource_servers', page, pageReq, request.query);
    },
  );

  app.post('/resource-servers', { config: { scope: 'create:resource_servers' }, schema: { body: CreateBody } }, async (request, reply) =>
    reply.status(201).send(await createResourceServer(storage, request.body)),
  );

  app.get(
    '/resource-servers/:id',
    { config: { scope: 'read:resource_servers' }, schema: { params: IdParam, querystring: Strict(FieldsQuery) } },
    async (request) => project(await getResourceServer(storage, request.params.id), request.query),
  );

  app.patch(
    '/resource-servers/:id',
    { config: { scope: 'update:resource_servers' }, schema: { params: IdParam, body: UpdateBody } },
    async (request) => updateResourceServer(storage, request.params.id, request.body),
  );

  app.delete(
    '/resource-servers/:id',
    { config: { scope: 'delete:resource_servers' }, schema: { params: IdParam } },
    async (request, reply) => {
      await deleteResourceServer(storage, request.params.id, new Date(ctx.now()));
      return reply.status(204).send();
    },
  );
}
