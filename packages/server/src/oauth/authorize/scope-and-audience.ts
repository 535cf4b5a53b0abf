import { grantedScopes, parseScope } from '../scope.js';
import { AuthorizeError, type AuthorizeCheck } from './types.js';

/** The API (audience, or the tenant's default) and the scopes it allows, bound to the code. */
export const checkScopeAndAudience: AuthorizeCheck = async (params, state, ctx) => {
  const audience = params.audience || (await ctx.lookups.tenantSettings()).default_audience || undefined;
  if (audience !== undefined) {
    const api = await ctx.lookups.resourceServer(audience);
    if (!api || api.is_system) throw new AuthorizeError('access_denied', `Service not found: ${audience}`);
    state.api = api;
    state.request.audience = audience;
  }
  state.request.scope = grantedScopes(parseScope(params.scope), state.api);
};
