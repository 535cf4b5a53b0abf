import { auth0DefaultsOn, RELAXED_BY_AUTH0_DEFAULTS } from '../../domain/auth0-defaults.js';
import type { Client, TenantSettings } from '../../domain/types.js';
import { S256_CHALLENGE } from '../pkce.js';
import { type AuthorizeCheck, AuthorizeError } from './types.js';

/**
 * Whether a code for this client needs PKCE, and if so the refusal that says why and what would
 * change it. The client's own `require_pkce` wins. Otherwise public clients need it, since their
 * codes are stealable (RFC 9700 §2.1.1), unless the tenant asked for Auth0's defaults (Auth0 leaves
 * PKCE to the app); third-party apps always do, the switch or not: nobody reviewed their code.
 */
export function pkceRequirement(client: Client, settings: Pick<TenantSettings, 'flags'>): string | undefined {
  const missing = 'Parameter code_challenge is required (PKCE with S256)';
  if (client.require_pkce !== undefined) {
    return client.require_pkce ? `${missing}: the application sets require_pkce` : undefined;
  }
  if (!client.is_first_party) return `${missing} for third-party applications (the application's require_pkce: false relaxes this)`;
  if (client.token_endpoint_auth_method === 'none' && !auth0DefaultsOn(settings)) {
    return `${missing} for public clients (${RELAXED_BY_AUTH0_DEFAULTS}, as does the application's require_pkce: false)`;
  }
  return undefined;
}

/** PKCE (RFC 7636) with S256 only, whenever a challenge is sent, and required as above. */
export const checkPkce: AuthorizeCheck = async (params, state, ctx) => {
  const challenge = params.code_challenge;
  const method = params.code_challenge_method;
  if (method !== undefined && method !== 'S256') {
    throw new AuthorizeError('invalid_request', `Unsupported code_challenge_method: ${method} (only S256 is allowed)`);
  }
  if (challenge === undefined) {
    if (method !== undefined) throw new AuthorizeError('invalid_request', 'code_challenge_method given without code_challenge');
    if (!state.request.responseType?.split(' ').includes('code')) return;
    const refusal = pkceRequirement(state.client!, await ctx.lookups.tenantSettings());
    if (refusal) throw new AuthorizeError('invalid_request', refusal);
    return;
  }
  if (method === undefined) {
    // RFC 7636 would default to `plain`, which latchkey does not accept.
    throw new AuthorizeError('invalid_request', 'Parameter code_challenge_method=S256 is required with code_challenge');
  }
  if (!S256_CHALLENGE.test(challenge)) throw new AuthorizeError('invalid_request', 'Malformed code_challenge');
  state.request.codeChallenge = challenge;
};
