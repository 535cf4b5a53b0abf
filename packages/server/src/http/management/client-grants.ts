import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { createClientGrant, deleteClientGrant, updateClientGrant } from '../../domain/client-grants.js';
import { listBody, type ManagementApp, PagingQuery, pageRequest } from './plugin.js';
import { Id, IdParam, Strict } from './schemas.js';

const Scope = Type.Array(Type.String({ minLength: 1, maxLength: 280 }), { maxItems: 1000 });

export async function clientGrantRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;

  app.get(
    '/client-grants',
    {
      config: { scope: 'read:client_grants' },
      schema: {
        querystring: Strict({
          ...PagingQuery,
          audience: Type.Optional(Type.String({ maxLength: 600 })),
          client_id: Type.Optional(Type.String({ maxLength: 300 })),
        }),
      },
    },
    async (request) => {
      const { audience, client_id } = request.query;
      const pageReq = pageRequest(request.query);
      const page = await storage.clientGrants.list({ audience, client_id }, pageReq);
      return listBody('client_grants', page, pageReq, {});
    },
  );

  app.post(
    '/client-grants',
    {
      config: { scope: 'create:client_grants' },
      schema: {
        body: Strict({
          client_id: Id,
          audience: Type.String({ minLength: 1, maxLength: 600 }),
          scope: Scope,
        }),
      },
    },
    async (request, reply) => reply.status(201).send(await createClientGrant(storage, request.body)),
  );

  app.patch(
    '/client-grants/:id',
    { config: { scope: 'update:client_grants' }, schema: { params: IdParam, body: Strict({ scope: Type.Optional(Scope) }) } },
    async (request) => updateClientGrant(storage, request.params.id, request.body),
  );

  app.delete('/client-grants/:id', { config: { scope: 'delete:client_grants' }, schema: { params: IdParam } }, async (request, reply) => {
    await deleteClientGrant(storage, request.params.id);
    return reply.status(204).send();
  });
}
