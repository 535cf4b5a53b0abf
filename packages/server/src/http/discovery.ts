import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { grantHandlers } from '../oauth/grants/index.js';

/**
 * OpenID Provider metadata (OIDC Discovery 1.0 / RFC 8414). Only endpoints that exist are listed, so
 * clients never try one that 404s. express-oauth2-jwt-bearer takes
 * `id_token_signing_alg_values_supported` as the allow-list for access tokens too.
 */
export function providerMetadata(issuer: string): Record<string, unknown> {
  return {
    issuer,
    token_endpoint: `${issuer}oauth/token`,
    jwks_uri: `${issuer}.well-known/jwks.json`,
    grant_types_supported: [...grantHandlers.keys()],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    request_parameter_supported: false,
  };
}

export async function discoveryEndpoints(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const metadata = providerMetadata(ctx.issuer);
  const sendMetadata = async (_: unknown, reply: import('fastify').FastifyReply) =>
    reply.header('cache-control', 'public, max-age=300').send(metadata);
  app.get('/.well-known/openid-configuration', sendMetadata);
  app.get('/.well-known/oauth-authorization-server', sendMetadata);

  app.get('/.well-known/jwks.json', async (_request, reply) =>
    // Short enough that a rotated-in key is seen quickly; verifiers also refetch on an unknown kid.
    reply.header('cache-control', 'public, max-age=60').send(await ctx.keys.jwks()),
  );
}
