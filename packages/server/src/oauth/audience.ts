import type { ResourceServer } from '../domain/types.js';
import { OAuthError } from './errors.js';
import type { GrantContext } from './grants/types.js';

/**
 * The API a user-facing request is for: `audience`, else the tenant's default audience, else none
 * (an opaque token for /userinfo). An unknown API, or the Management API, is refused as Auth0 does.
 */
export async function userFacingApi(
  ctx: GrantContext,
  requested: string | undefined,
): Promise<{ audience?: string; api?: ResourceServer }> {
  const audience = requested || (await ctx.lookups.tenantSettings()).default_audience || undefined;
  if (audience === undefined) return {};
  const api = await ctx.lookups.resourceServer(audience);
  if (!api || api.is_system) throw new OAuthError('access_denied', `Service not found: ${audience}`);
  return { audience, api };
}
