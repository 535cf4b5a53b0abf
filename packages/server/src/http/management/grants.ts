import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { notFound } from '../../domain/errors.js';
import type { ConsentRecord } from '../../domain/types.js';
import { revokeConsent } from '../../login/consent.js';
import type { ManagementApp } from './plugin.js';
import { Id, IdParam, Strict } from './schemas.js';

/** A user's consent to a client, in the shape of Auth0's `/api/v2/grants`. */
const present = (consent: ConsentRecord) => ({
  id: consent.id,
  clientID: consent.clientId,
  user_id: consent.userId,
  audience: consent.audience,
  scope: consent.scope,
});

const Filter = Strict({
  user_id: Type.Optional(Id),
  client_id: Type.Optional(Id),
  audience: Type.Optional(Type.String({ maxLength: 600 })),
});

/** Consents users gave (to third-party clients, mostly): list them, and revoke them to be asked again. */
export async function grantRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;

  app.get('/grants', { config: { scope: 'read:grants' }, schema: { querystring: Filter } }, async (request) => {
    const { user_id: userId, client_id: clientId, audience } = request.query;
    const consents = await storage.consents.list({
      ...(userId !== undefined ? { userId } : {}),
      ...(clientId !== undefined ? { clientId } : {}),
      ...(audience !== undefined ? { audience } : {}),
    });
    return consents.map(present);
  });

  app.delete('/grants/:id', { config: { scope: 'delete:grants' }, schema: { params: IdParam } }, async (request, reply) => {
    if (!(await revokeConsent(storage, { id: request.params.id }, ctx.now())))
      throw notFound('The grant does not exist', 'inexistent_grant');
    return reply.status(204).send();
  });

  app.delete(
    '/grants',
    {
      config: { scope: 'delete:grants' },
      schema: {
        querystring: Strict({
          user_id: Id,
          client_id: Type.Optional(Id),
        }),
      },
    },
    async (request, reply) => {
      const { user_id: userId, client_id: clientId } = request.query;
      await revokeConsent(storage, { userId, ...(clientId !== undefined ? { clientId } : {}) }, ctx.now());
      return reply.status(204).send();
    },
  );
}
