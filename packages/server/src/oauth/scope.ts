import type { ResourceServer } from '../domain/types.js';

/** Scopes of OpenID Connect itself, which any client may ask for. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'address', 'phone', 'offline_access']);

/** Space-separated scopes (RFC 6749 §3.3), duplicates dropped, order kept. */
export function parseScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter(Boolean))];
}

/**
 * The scopes a user-facing grant gets, as Auth0 decides: OIDC scopes as asked, the API's scopes
 * only when the API defines them; anything else is dropped rather than refused. `offline_access`
 * needs an API that allows it (with no API, the token only reaches /userinfo, and may be refreshed).
 */
export function grantedScopes(requested: string[], api: ResourceServer | undefined): string[] {
  const apiScopes = new Set(api?.scopes.map((s) => s.value));
  return requested.filter((scope) => {
    if (scope === 'offline_access') return api ? api.allow_offline_access : true;
    return OIDC_SCOPES.has(scope) || apiScopes.has(scope);
  });
}

/**
 * RBAC, for an API with `enforce_policies`: its scopes reach the token only as far as the subject
 * holds them as permissions (OIDC scopes are unaffected), and the `*_authz` dialects also list every
 * permission held, as Auth0's "Add Permissions in the Access Token" does.
 */
export function enforcePolicies(api: ResourceServer, scope: string[], held: string[]): { scope: string[]; permissions?: string[] } {
  const defined = new Set(api.scopes.map((s) => s.value));
  const permissions = held.filter((p) => defined.has(p));
  return {
    scope: scope.filter((s) => OIDC_SCOPES.has(s) || permissions.includes(s)),
    ...(api.token_dialect.endsWith('_authz') ? { permissions } : {}),
  };
}
