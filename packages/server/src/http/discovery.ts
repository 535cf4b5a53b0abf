import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { SUPPORTED_RESPONSE_TYPES } from '../oauth/authorize/response-type.js';
import type { GrantRegistry } from '../oauth/grants/index.js';

/**
 * OpenID Provider metadata (OIDC Discovery 1.0 / RFC 8414). Only endpoints that exist are listed, so
 * clients never try one that 404s. express-oauth2-jwt-bearer takes
 * `id_token_signing_alg_values_supported` as the allow-list for access tokens too.
 */
export function providerMetadata(issuer: string, grants: GrantRegistry): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}authorize`,
    token_endpoint: `${issuer}oauth/token`,
    userinfo_endpoint: `${issuer}userinfo`,
    jwks_uri: `${issuer}.well-known/jwks.json`,
    revocation_endpoint: `${issuer}oauth/revoke`,
    end_session_endpoint: `${issuer}oidc/logout`,
    device_authorization_endpoint: `${issuer}oauth/device/code`,
    // Always listed, as Auth0 does: clients read discovery once and keep it, so an endpoint listed only
    // while the tenant flag is on would stay unknown to them after an admin turns it on. It answers
    // 403 while the flag is off.
    registration_endpoint: `${issuer}oidc/register`,
    scopes_supported: ['openid', 'profile', 'email', 'phone', 'offline_access'],
    response_types_supported: SUPPORTED_RESPONSE_TYPES,
    response_modes_supported: ['query', 'fragment', 'form_post', 'web_message'],
    code_challenge_methods_supported: ['S256'],
    grant_types_supported: grants.tokenGrantTypes,
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'sid',
      'at_hash',
      'name',
      'nickname',
      'picture',
      'given_name',
      'family_name',
      'updated_at',
      'email',
      'email_verified',
      'phone_number',
    ],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    request_parameter_supported: false,
  };
}

export async function discoveryEndpoints(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const metadata = providerMetadata(ctx.issuer, ctx.grants);
  const sendMetadata = async (_: unknown, reply: import('fastify').FastifyReply) =>
    reply.header('cache-control', 'public, max-age=60').send(metadata);
  app.get('/.well-known/openid-configuration', sendMetadata);
  app.get('/.well-known/oauth-authorization-server', sendMetadata);

  app.get('/.well-known/jwks.json', async (_request, reply) =>
    // Short enough that a rotated-in key is seen quickly; verifiers also refetch on an unknown kid.
    reply.header('cache-control', 'public, max-age=60').send(await ctx.keys.jwks()),
  );
}
