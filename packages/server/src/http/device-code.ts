import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { authenticateClient, clientCredentialsFrom } from '../oauth/client-auth.js';
import { startDeviceAuthorization } from '../oauth/device.js';
import { readParams } from './params.js';

const DEVICE_AUTHORIZATION_PARAMETERS: ReadonlySet<string> = new Set(['client_id', 'client_secret', 'scope', 'audience']);

/** `POST /oauth/device/code` (RFC 8628 §3.1); shares the token endpoint's error handling. */
export async function deviceAuthorizationEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post('/oauth/device/code', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    const params = readParams(request.body, { names: DEVICE_AUTHORIZATION_PARAMETERS });
    const { client } = await authenticateClient(clientCredentialsFrom(params, request.headers.authorization), ctx.lookups, ctx.digester);
    const response = await startDeviceAuthorization(ctx, client, {
      ...(params.scope !== undefined ? { scope: params.scope } : {}),
      ...(params.audience !== undefined ? { audience: params.audience } : {}),
    });
    return reply.headers({ 'cache-control': 'no-store' }).send(response);
  });
}
