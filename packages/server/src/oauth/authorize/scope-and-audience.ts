import { userFacingApi } from '../audience.js';
import { OAuthError } from '../errors.js';
import { grantedScopes, parseScope } from '../scope.js';
import { bounded } from './limits.js';
import { type AuthorizeCheck, AuthorizeError } from './types.js';

/** The API (audience, or the tenant's default) and the scopes it allows, bound to the code. */
export const checkScopeAndAudience: AuthorizeCheck = async (params, state, ctx) => {
  const audience = bounded(params, 'audience');
  let found;
  try {
    found = await userFacingApi(ctx, audience);
  } catch (err) {
    // The same refusal, but as an authorization error so it travels back to the client.
    if (err instanceof OAuthError) throw new AuthorizeError('access_denied', err.description);
    throw err;
  }
  if (found.api) {
    state.api = found.api;
    state.request.audience = found.audience!;
  }
  state.request.scope = grantedScopes(parseScope(params.scope), state.api);
};
