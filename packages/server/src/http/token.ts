import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { mailOnAccountLock } from '../login/account-mail.js';
import { countTokenIssued } from '../metrics.js';
import type { GrantContext, TokenParams } from '../oauth/grants/index.js';
import { exchangeToken } from '../oauth/token-exchange.js';
import { installErrorHandler } from './errors.js';
import { readParams } from './params.js';

/**
 * The parameters an endpoint reads, from a form or JSON body. RFC 6749 §3.2: they must not repeat,
 * and each is a string; parameters the endpoint does not read are ignored.
 */
export function tokenParams(body: unknown, names: ReadonlySet<string>): TokenParams {
  return readParams(body, { names });
}

/** `POST /oauth/token`: the exchange itself is oauth/token-exchange.ts. */
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
  const exchangeCtx = { ...grantCtx, grants: ctx.grants, digester: ctx.digester };

  installErrorHandler(app, 'oauth', ctx);

  app.post('/oauth/token', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    // The parameters the grants declare; any other is ignored, as in Auth0.
    const params = tokenParams(request.body, ctx.grants.tokenParameters);
    const response = await exchangeToken(exchangeCtx, params, request.headers.authorization, { ip: request.ip });
    // Only a grant type the registry knows gets this far: a bounded label.
    countTokenIssued(params.grant_type!);
    return reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).send(response);
  });
}
