import { AUTH0_DEFAULTS_FLAG } from '../../domain/auth0-defaults.js';
import type { Client } from '../../domain/types.js';
import { recordEvent } from '../../events/emit.js';
import { OAuthError } from '../errors.js';
import { grantedScopes, parseScope } from '../scope.js';
import { digestToken, issueUserTokens, refreshTokenExpiry } from '../user-tokens.js';
import type { GrantContext, GrantHandler } from './types.js';

const invalidToken = () => new OAuthError('invalid_grant', 'Unknown or invalid refresh token.');

/**
 * A rotated token presented again. Apps written for Auth0 often keep their first refresh token
 * (Auth0 creates apps non-rotating), so the refusal names what would let them keep it.
 */
function reusedToken(client: Client, userId: string): OAuthError {
  recordEvent({
    type: 'fertft',
    description: 'Refresh token reuse detected: the whole token family was revoked',
    client_id: client.client_id,
    client_name: client.name,
    user_id: userId,
    details: { reuse_detected: true },
  });
  const relax =
    client.registration_source === 'dynamic_registration'
      ? "refresh_token.rotation_type 'non-rotating' on the application relaxes this"
      : `refresh_token.rotation_type 'non-rotating' on the application, ` +
        `or tenant setting flags.${AUTH0_DEFAULTS_FLAG} on when an application is created, relaxes this`;
  return new OAuthError(
    'invalid_grant',
    `Unknown or invalid refresh token: it was already used, and this application rotates refresh tokens, so each works once (${relax}).`,
  );
}

/**
 * A revocation that raced this request: the family's successor (or, non-rotating, the access token)
 * is already made, so the family's mark is read again, now that the new token is recorded.
 *
 * Revocation (`revokeRefreshTokenFamily`) is two writes in order: R1 the family's row in
 * `revoked_refresh_families`, then R2 the family's token rows. This request wrote I (its new token
 * row), then reads C (the presented token joined with that family row). Every interleaving:
 * - R1 committed before C reads: C sees the mark; the family is revoked again, now with the new row
 *   in it, and the request is refused. Nothing it made was handed out.
 * - R1 commits after C read: the response carries a token, but every later use of any token of the
 *   family reads the family row at use time (`getRefreshToken` joins it) and is refused. That is
 *   what revocation promises: no token of the family works once it is revoked. R2 alone would not
 *   do: on PostgreSQL its UPDATE takes its snapshot when it starts and misses a row I inserts just
 *   after, which was the bug (the loser of two racing presentations revoked, the winner's token lived).
 * The same holds for a reuse detected within or after the leeway, for a code replay revoking the
 * code's family, for /oauth/revoke and for a consent withdrawn (all go through the family row).
 */
async function refuseIfFamilyRevoked(ctx: GrantContext, tokenHash: string, familyId: string, nowIso: string): Promise<void> {
  const current = await ctx.storage.refreshTokens.get(tokenHash);
  if (current && current.revokedAt === null) return;
  await ctx.storage.refreshTokens.revokeFamily(familyId, nowIso);
  throw invalidToken();
}

/**
 * RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2): a rotating token works once;
 * presenting it again after the client's leeway revokes its whole family, the thief's copy included.
 */
export const refreshTokenGrant: GrantHandler = {
  grantType: 'refresh_token',
  confidentialOnly: false,
  parameters: [{ name: 'refresh_token', required: true }, { name: 'scope' }],
  dynamicRegistration: true,
  events: { success: 'sertft', failure: 'fertft' },

  async handle(ctx, { client }, params, meta) {
    const tokenHash = digestToken(params.refresh_token!);
    const record = await ctx.storage.refreshTokens.get(tokenHash);
    const now = ctx.now();
    const nowIso = new Date(now).toISOString();
    if (!record || record.revokedAt !== null || record.grant.clientId !== client.client_id) throw invalidToken();
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= now) throw invalidToken();

    // Checked before rotating: a refused request must not cost the client its refresh token.
    let scope = record.grant.scope;
    if (params.scope !== undefined) {
      // The scopes /authorize dropped (none the API defines) are dropped here too: auth0-spa-js
      // sends the scope it first asked for with every refresh.
      const api = record.grant.audience ? await ctx.lookups.resourceServer(record.grant.audience) : undefined;
      const requested = grantedScopes(parseScope(params.scope), api);
      const widened = requested.filter((s) => !record.grant.scope.includes(s));
      if (widened.length > 0) throw new OAuthError('invalid_scope', `Scopes not granted by this refresh token: ${widened.join(' ')}`, 403);
      scope = requested;
    }

    const rotating = client.refresh_token.rotation_type === 'rotating';
    if (rotating) {
      const leewayMs = client.refresh_token.leeway * 1000;
      // `>=`: with no leeway, any second presentation is reuse, even within the same millisecond.
      const reusedLate = (rotatedAt: string) => now - Date.parse(rotatedAt) >= leewayMs;
      if (record.rotatedAt !== null && reusedLate(record.rotatedAt)) {
        await ctx.storage.refreshTokens.revokeFamily(record.familyId, nowIso);
        throw reusedToken(client, record.grant.userId);
      }
      if (record.rotatedAt === null && !(await ctx.storage.refreshTokens.markRotated(tokenHash, nowIso))) {
        // Another request rotated it a moment ago: within the leeway that is a lost response, not theft.
        const current = await ctx.storage.refreshTokens.get(tokenHash);
        if (!current?.rotatedAt || current.revokedAt !== null || reusedLate(current.rotatedAt)) {
          await ctx.storage.refreshTokens.revokeFamily(record.familyId, nowIso);
          throw reusedToken(client, record.grant.userId);
        }
      }
    }

    const stored = await ctx.storage.users.get(record.grant.userId);
    const user = stored?.user;
    // A deleted connection's users are deleted in batches after it (domain/connections.ts): none refreshes meanwhile.
    if (!user || user.blocked || !(await ctx.lookups.connection(stored.connection))) throw invalidToken();

    const { tokens } = await issueUserTokens(ctx, {
      client,
      user,
      grant: record.grant,
      scope,
      // As in Auth0, post-login runs again at each exchange (event.transaction.protocol tells it apart).
      postLogin: { protocol: 'oauth2-refresh-token', request: { ip: meta.ip } },
      ...(rotating ? { refresh: { familyId: record.familyId, familyExpiresAt: record.familyExpiresAt } } : {}),
    });
    if (!rotating) await ctx.storage.refreshTokens.extend(tokenHash, refreshTokenExpiry(client, record.familyExpiresAt, now));
    await refuseIfFamilyRevoked(ctx, tokenHash, record.familyId, nowIso);
    return tokens;
  },
};
