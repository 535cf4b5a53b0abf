import { decodeJwt } from 'jose';
import type { FetchLike } from './config.js';
import { DiscoveryFailed, OAuthRequestFailed, RequestFailed, TokenRefreshFailed } from './errors.js';
import type { UserProfile } from './id-token.js';
import { type TokenResponse, tokenRequest } from './token-endpoint.js';

export interface RefreshGrantContext {
  fetch: FetchLike;
  tokenEndpoint: string;
  clientId: string;
  /** Keeps a rotated refresh token (memory and storage). */
  keepRotated(refreshToken: string): Promise<void>;
  /** The server refused the refresh token: the stored copy is dead too. */
  forget(): Promise<void>;
  verifyIdToken(idToken: string): Promise<UserProfile>;
}

export interface RefreshedTokens {
  tokens: TokenResponse;
  /** Undefined when the response has no id_token: OIDC Core §12.2 makes it optional on refresh. */
  user: UserProfile | undefined;
}

/**
 * One refresh_token grant (RFC 6749 §6). With rotation, the new refresh token is kept before the
 * response is looked at further: the old one is already dead at the server, and a crash or a failed
 * check after this point must not lose the only token that still works.
 */
export async function redeemRefreshToken(
  ctx: RefreshGrantContext,
  refreshToken: string,
  narrow: { audience?: string; scope?: string } = {},
): Promise<RefreshedTokens> {
  const { audience, scope } = narrow;
  let tokens: TokenResponse;
  try {
    tokens = await tokenRequest(ctx.fetch, ctx.tokenEndpoint, {
      grant_type: 'refresh_token',
      client_id: ctx.clientId,
      refresh_token: refreshToken,
      ...(audience !== undefined ? { audience } : {}),
      // RFC 6749 §6: a narrower scope than the grant's; the refresh token keeps the full one.
      ...(scope !== undefined ? { scope } : {}),
    });
  } catch (cause) {
    if (cause instanceof OAuthRequestFailed && cause.error === 'invalid_grant') {
      await ctx.forget();
      throw new TokenRefreshFailed('The refresh token was refused; sign in again.', cause.error, true, { cause });
    }
    const error = cause instanceof OAuthRequestFailed ? cause.error : undefined;
    throw new TokenRefreshFailed(`The token refresh failed: ${(cause as Error).message}`, error, false, { cause });
  }
  if (tokens.refresh_token && tokens.refresh_token !== refreshToken) await ctx.keepRotated(tokens.refresh_token);
  return { tokens, user: tokens.id_token ? await ctx.verifyIdToken(tokens.id_token) : undefined };
}

/**
 * Whether an access token is for `audience`. Access tokens are the API's business, but an Auth0 API
 * token is a JWT, and reading its `aud` is the only way to notice that the server ignored the
 * audience of a refresh request. Opaque tokens are taken on trust.
 */
export function grantsAudience(accessToken: string, audience: string): boolean {
  try {
    const { aud } = decodeJwt(accessToken);
    return aud === undefined || (Array.isArray(aud) ? aud.includes(audience) : aud === audience);
  } catch {
    return true;
  }
}

/**
 * Whether a failed refresh is worth retrying with the session kept: the server could not be
 * reached or said it is temporarily unable (RFC 6749 §5.2 has no such code; Auth0 and others send
 * `temporarily_unavailable` / `server_error`, and a 5xx without OAuth JSON). A refused token is not.
 */
export function isTransientFailure(error: unknown): boolean {
  if (!(error instanceof TokenRefreshFailed) || error.loginRequired)
    return error instanceof RequestFailed || error instanceof DiscoveryFailed;
  const cause = error.cause;
  if (cause instanceof RequestFailed || cause instanceof DiscoveryFailed) return true;
  return (
    cause instanceof OAuthRequestFailed &&
    (cause.error === 'temporarily_unavailable' || cause.error === 'server_error' || (cause.status ?? 0) >= 500)
  );
}
