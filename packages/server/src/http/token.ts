import type { FastifyError, FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { authenticateClient, clientCredentialsFrom } from '../oauth/client-auth.js';
import { OAuthError } from '../oauth/errors.js';
import { checkGrantParameters, type GrantContext, type TokenParams } from '../oauth/grants/index.js';

/**
 * The parameters an endpoint reads, from a form or JSON body. RFC 6749 §3.2: they must not repeat,
 * and each is a string; parameters the endpoint does not read are ignored.
 */
export function tokenParams(body: unknown, names: ReadonlySet<string>): TokenParams {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new OAuthError('invalid_request', 'The request body must be a form or a JSON object');
  }
  const params: TokenParams = {};
  for (const [key, value] of Object.entries(body)) {
    if (!names.has(key) || value === undefined || value === null) continue;
    if (Array.isArray(value)) throw new OAuthError('invalid_request', `Parameter ${key} must not be repeated`);
    if (typeof value !== 'string') throw new OAuthError('invalid_request', `Parameter ${key} must be a string`);
    params[key] = value;
  }
  return params;
}

/** Any failure at the token endpoint as `{error, error_description}`, never Fastify's default body. */
export function toOAuthError(error: FastifyError | Error): OAuthError {
  if (error instanceof OAuthError) return error;
  const status = (error as FastifyError).statusCode;
  if (status === 413) return new OAuthError('invalid_request', 'Request body too large', 413);
  if (status === 415) return new OAuthError('invalid_request', 'Unsupported content type: send application/x-www-form-urlencoded or application/json', 415);
  if (status && status >= 400 && status < 500) return new OAuthError('invalid_request', 'Malformed request body', status);
  return new OAuthError('server_error', 'The server could not process the request', 500);
}

/** `POST /oauth/token`: authenticate the client, then hand over to the grant's handler. */
export async function tokenEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const grantCtx: GrantContext = {
    issuer: ctx.issuer,
    storage: ctx.storage,
    lookups: ctx.lookups,
    keys: ctx.keys,
    pictures: ctx.pictures,
    now: ctx.now,
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const oauth = toOAuthError(error);
    if (oauth.status >= 500) request.log.error({ err: error }, 'token endpoint error');
    return reply.status(oauth.status).headers({ 'cache-control': 'no-store', ...oauth.headers }).send(oauth.toJSON());
  });

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
    return reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).send(response);
  });
}
