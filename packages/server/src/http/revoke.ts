import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { authenticateClient, clientCredentialsFrom } from '../oauth/client-auth.js';
import { OAuthError } from '../oauth/errors.js';
import { revokeRefreshToken } from '../oauth/revocation.js';
import { readParams } from './params.js';

const REVOCATION_PARAMETERS: ReadonlySet<string> = new Set(['client_id', 'client_secret', 'token', 'token_type_hint']);

/** `POST /oauth/revoke`: Auth0 answers 200 with an empty body, whether or not the token existed. */
export async function revocationEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post('/oauth/revoke', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    const params = readParams(request.body, { names: REVOCATION_PARAMETERS });
    const { client } = await authenticateClient(clientCredentialsFrom(params, request.headers.authorization), ctx.lookups, ctx.digester);
    if (!params.token) throw new OAuthError('invalid_request', 'Missing required parameter: token');
    await revokeRefreshToken(ctx, client, params.token);
    return reply.header('cache-control', 'no-store').status(200).send();
  });
}
