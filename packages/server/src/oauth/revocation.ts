import type { Client } from '../domain/types.js';
import { recordEvent } from '../events/emit.js';
import type { GrantContext } from './grants/types.js';
import { digestToken } from './user-tokens.js';

/**
 * RFC 7009: revoking a refresh token revokes its whole family (every rotation of the grant).
 * A token that is unknown, already revoked or another client's is silently ignored (§2.2).
 */
export async function revokeRefreshToken(ctx: GrantContext, client: Client, token: string): Promise<void> {
  const record = await ctx.storage.refreshTokens.get(digestToken(token));
  if (!record || record.grant.clientId !== client.client_id || record.revokedAt !== null) return;
  await ctx.storage.refreshTokens.revokeFamily(record.familyId, new Date(ctx.now()).toISOString());
  recordEvent({ type: 'srrt', client_id: client.client_id, client_name: client.name, user_id: record.grant.userId });
}
