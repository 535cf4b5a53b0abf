import type { Client, Grant } from '../../domain/types.js';
import type { GrantContext } from './types.js';

/**
 * A refresh token comes with `offline_access`, when the client may use the refresh_token grant
 * and the API (if any) allows offline access. `grantedScopes` already dropped offline_access for
 * APIs that do not allow it; the API is checked again in case it changed since.
 */
export async function offersRefreshToken(ctx: GrantContext, client: Client, grant: Grant): Promise<boolean> {
  if (!grant.scope.includes('offline_access') || !client.grant_types.includes('refresh_token')) return false;
  if (!grant.audience) return true;
  return (await ctx.lookups.resourceServer(grant.audience))?.allow_offline_access === true;
}
