import { runCredentialsExchange } from '../../actions/flows.js';
import { OAuthError } from '../errors.js';
import { parseScope } from '../scope.js';
import { signAccessToken } from '../tokens.js';
import type { GrantHandler } from './types.js';

/**
 * Machine-to-machine tokens (RFC 6749 §4.4) as Auth0 issues them: the audience must be an API the
 * client has a client grant for; the token carries the grant's scopes, narrowed to those requested.
 */
export const clientCredentialsGrant: GrantHandler = {
  grantType: 'client_credentials',
  confidentialOnly: true,
  parameters: [{ name: 'audience' }, { name: 'scope' }],
  events: { success: 'seccft', failure: 'feccft' },

  async handle(ctx, { client }, params, meta) {
    const audience = params.audience || (await ctx.lookups.tenantSettings()).default_audience;
    if (!audience) {
      throw new OAuthError('access_denied', 'No audience parameter was provided, and no default audience has been configured');
    }
    const api = await ctx.lookups.resourceServer(audience);
    if (!api) throw new OAuthError('access_denied', `Service not enabled within domain: ${audience}`);
    const grant = await ctx.lookups.clientGrant(client.client_id, audience);
    if (!grant) {
      throw new OAuthError(
        'access_denied',
        `Client is not authorized to access "${audience}". You need to create a "client-grant" associated to this API.`,
      );
    }

    let scopes = grant.scope;
    if (params.scope !== undefined) {
      const requested = parseScope(params.scope);
      const missing = requested.filter((s) => !grant.scope.includes(s));
      if (missing.length > 0) throw new OAuthError('access_denied', `Client has not been granted scopes: ${missing.join(', ')}`);
      scopes = requested;
    }
    const scope = scopes.join(' ');
    const custom = await runCredentialsExchange(ctx, { client, audience, scope: scopes, request: { ip: meta.ip } });
    const nowSeconds = Math.floor(ctx.now() / 1000);
    const { token, expiresIn } = await signAccessToken(
      ctx.keys,
      ctx.issuer,
      api,
      {
        sub: `${client.client_id}@clients`,
        audience,
        azp: client.client_id,
        scope,
        gty: 'client-credentials',
        // RBAC for machines: the client grant's scopes are its permissions.
        ...(api.enforce_policies && api.token_dialect.endsWith('_authz') ? { permissions: scopes } : {}),
        ...(custom ? { custom } : {}),
      },
      nowSeconds,
    );
    return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, ...(scope ? { scope } : {}) };
  },
};
