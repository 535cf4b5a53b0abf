import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { mailOnAccountLock } from '../login/account-mail.js';
import { countTokenIssued } from '../metrics.js';
import { authenticateClient, clientCredentialsFrom } from '../oauth/client-auth.js';
import { OAuthError } from '../oauth/errors.js';
import { checkGrantParameters, type GrantContext, type TokenParams } from '../oauth/grants/index.js';
import { installErrorHandler } from './errors.js';
import { readParams } from './params.js';

/**
 * The parameters an endpoint reads, from a form or JSON body. RFC 6749 §3.2: they must not repeat,
 * and each is a string; parameters the endpoint does not read are ignored.
 */
export function tokenParams(body: unknown, names: ReadonlySet<string>): TokenParams {
  return readParams(body, { names });
}

/** `POST /oauth/token`: authenticate the client, then hand over to the grant's handler. */
export async function tokenEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const grantCtx: GrantContext = {
    issuer: ctx.issuer,
    storage: ctx.storage,
    lookups: ctx.lookups,
    keys: ctx.keys,
    pictures: ctx.pictures,
    actions: ctx.actions,
    now: ctx.now,
    accountLocked: (clientId) => mailOnAccountLock(ctx, app.log, clientId),
  };

  installErrorHandler(app, 'oauth', ctx);

  app.post('/oauth/token', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    // The parameters the grants declare; any other is ignored, as in Auth0.
    const params = tokenParams(request.body, ctx.grants.tokenParameters);
    const grantType = params.grant_type;
    if (!grantType) throw new OAuthError('invalid_request', 'Missing required parameter: grant_type');
    const handler = ctx.grants.handler(grantType);
    if (!handler) throw new OAuthError('unsupported_grant_type', `Unsupported grant type: ${grantType}`);

    const credentials = clientCredentialsFrom(params, request.headers.authorization);
    const record = await authenticateClient(credentials, ctx.lookups, ctx.digester);
    if (!record.client.grant_types.includes(grantType)) {
      throw new OAuthError('unauthorized_client', `Grant type '${grantType}' not allowed for the client.`);
    }
    if (handler.confidentialOnly && record.client.token_endpoint_auth_method === 'none') {
      throw new OAuthError('unauthorized_client', `Grant type '${grantType}' requires a confidential client.`);
    }
    checkGrantParameters(handler, params);
    const response = await handler.handle(grantCtx, record, params, { ip: request.ip });
    // The grant type is one the registry knows (an unknown one was refused above): a bounded label.
    countTokenIssued(grantType);
    return reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).send(response);
  });
}
