import { createHash, randomBytes } from 'node:crypto';
import { withDefaultPicture } from '../domain/default-picture.js';
import type { Client, Grant, RefreshTokenRecord, User } from '../domain/types.js';
import { heldPermissionNames } from '../domain/user-permissions.js';
import { OAuthError } from './errors.js';
import type { GrantContext, TokenResponse } from './grants/types.js';
import { enforcePolicies } from './scope.js';
import { signAccessToken, signJwt } from './tokens.js';

/** Opaque access tokens (no API asked for) reach /userinfo only; Auth0 gives them a day. */
export const OPAQUE_ACCESS_TOKEN_LIFETIME = 86400;

export const digestToken = (token: string) => createHash('sha256').update(token).digest('base64url');
export const newOpaqueToken = () => randomBytes(32).toString('base64url');

/** Profile claims by scope (OIDC Core §5.4), from the stored user. */
export function profileClaims(user: User, scope: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (scope.includes('profile')) {
    for (const key of ['name', 'nickname', 'picture', 'given_name', 'family_name'] as const) {
      if (user[key] !== undefined) claims[key] = user[key];
    }
    claims.updated_at = user.updated_at;
  }
  if (scope.includes('email') && user.email !== undefined) {
    claims.email = user.email;
    claims.email_verified = user.email_verified;
  }
  if (scope.includes('phone') && user.phone_number !== undefined) claims.phone_number = user.phone_number;
  return claims;
}

/** OIDC Core §3.2.2.9 (at_hash) and §3.3.2.11 (c_hash): the left half of the value's SHA-256. */
function leftHalfHash(value: string): string {
  const digest = createHash('sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export interface IdTokenInput {
  client: Client;
  user: User;
  grant: Grant;
  nonce?: string;
  /** Set when the id_token travels with an access token from the authorization endpoint. */
  accessToken?: string;
  /** Set when it travels with a code (hybrid flow). */
  code?: string;
}

export async function signIdToken(ctx: GrantContext, input: IdTokenInput, nowSeconds: number): Promise<string> {
  const key = await ctx.keys.current();
  const { client, user, grant } = input;
  const payload: Record<string, unknown> = {
    ...profileClaims(withDefaultPicture(user, ctx.pictures), grant.scope),
    iss: ctx.issuer,
    sub: user.user_id,
    aud: client.client_id,
    iat: nowSeconds,
    exp: nowSeconds + client.jwt_configuration.lifetime_in_seconds,
    auth_time: Math.floor(Date.parse(grant.authTime) / 1000),
    ...(grant.sid ? { sid: grant.sid } : {}),
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
    ...(input.accessToken ? { at_hash: leftHalfHash(input.accessToken) } : {}),
    ...(input.code ? { c_hash: leftHalfHash(input.code) } : {}),
  };
  return signJwt(key, 'JWT', payload);
}

export interface UserTokenRequest {
  client: Client;
  user: User;
  grant: Grant;
  nonce?: string;
  /** Issue a refresh token: a new family, or the next token of an existing family. */
  refresh?: { familyId: string; familyExpiresAt: string | null } | 'new';
  /** Scopes for this access token when narrower than the grant (refresh with `scope`). */
  scope?: string[];
  gty?: string;
  /** id_token with `at_hash`, as the authorization endpoint returns it next to an access token. */
  withAtHash?: boolean;
  includeIdToken?: boolean;
  /** Issued by the authorization endpoint (implicit): the API's `token_lifetime_for_web` applies, as in Auth0. */
  implicit?: boolean;
  /** The code of a hybrid response, for the id_token's c_hash. */
  code?: string;
}

export interface IssuedUserTokens {
  tokens: TokenResponse;
  /** The refresh token family, when one was issued (recorded on the code, to revoke on replay). */
  familyId?: string;
  /** The digest of the opaque /userinfo token, when one was issued (likewise recorded on the code). */
  opaqueTokenHash?: string;
}

/**
 * Access token (JWT for an API, opaque for /userinfo only), id_token when `openid` is granted, and a
 * refresh token when asked for. Shared by the code, refresh, password and implicit paths.
 */
export async function issueUserTokens(ctx: GrantContext, request: UserTokenRequest): Promise<IssuedUserTokens> {
  const now = ctx.now();
  const nowSeconds = Math.floor(now / 1000);
  const { client, user, grant } = request;
  const scope = request.scope ?? grant.scope;

  let accessToken: string;
  let expiresIn: number;
  let opaqueTokenHash: string | undefined;
  let accessScope = scope;
  const api = grant.audience ? await ctx.lookups.resourceServer(grant.audience) : undefined;
  // The API was deleted since the grant (a code, refresh token or device approval in flight): its
  // grants end with it, rather than turning into a /userinfo token that still carries the API's scopes.
  if (grant.audience && !api) throw new OAuthError('invalid_grant', `Service not found: ${grant.audience}`);
  if (api) {
    const audience = scope.includes('openid') ? [api.identifier, `${ctx.issuer}userinfo`] : api.identifier;
    // Evaluated at every issue, refreshes included: a permission (or role) taken away ends with the
    // next token. Direct and role permissions come in one query.
    const policy = api.enforce_policies
      ? enforcePolicies(api, scope, await heldPermissionNames(ctx.storage, user.user_id, api.identifier))
      : { scope };
    accessScope = policy.scope;
    ({ token: accessToken, expiresIn } = await signAccessToken(
      ctx.keys,
      ctx.issuer,
      // Never longer than the API's own lifetime: token_lifetime_for_web defaults to 7200 s.
      request.implicit ? { ...api, token_lifetime: Math.min(api.token_lifetime_for_web, api.token_lifetime) } : api,
      {
        sub: user.user_id,
        audience,
        azp: client.client_id,
        scope: accessScope.join(' '),
        ...(request.gty ? { gty: request.gty } : {}),
        ...(policy.permissions ? { permissions: policy.permissions } : {}),
      },
      nowSeconds,
    ));
  } else {
    accessToken = newOpaqueToken();
    expiresIn = OPAQUE_ACCESS_TOKEN_LIFETIME;
    opaqueTokenHash = digestToken(accessToken);
    await ctx.storage.accessTokens.insert(opaqueTokenHash, {
      clientId: client.client_id,
      userId: user.user_id,
      scope,
      expiresAt: new Date(now + expiresIn * 1000).toISOString(),
    });
  }

  const response: TokenResponse = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: expiresIn,
    scope: accessScope.join(' '),
  };
  if ((request.includeIdToken ?? true) && scope.includes('openid')) {
    response.id_token = await signIdToken(
      ctx,
      {
        client,
        user,
        grant: { ...grant, scope },
        ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
        ...(request.withAtHash ? { accessToken } : {}),
        ...(request.code ? { code: request.code } : {}),
      },
      nowSeconds,
    );
  }
  if (request.refresh) {
    const settings = client.refresh_token;
    const family =
      request.refresh === 'new'
        ? {
            familyId: randomBytes(16).toString('base64url'),
            familyExpiresAt:
              settings.expiration_type === 'expiring' && !settings.infinite_token_lifetime
                ? new Date(now + settings.token_lifetime * 1000).toISOString()
                : null,
          }
        : request.refresh;
    const refreshToken = newOpaqueToken();
    const record: RefreshTokenRecord = {
      ...family,
      grant,
      createdAt: new Date(now).toISOString(),
      expiresAt: refreshTokenExpiry(client, family.familyExpiresAt, now),
      rotatedAt: null,
      revokedAt: null,
    };
    await ctx.storage.refreshTokens.insert(digestToken(refreshToken), record);
    response.refresh_token = refreshToken;
    return { tokens: response, familyId: family.familyId, ...(opaqueTokenHash ? { opaqueTokenHash } : {}) };
  }
  return { tokens: response, ...(opaqueTokenHash ? { opaqueTokenHash } : {}) };
}

/** The earlier of the family's absolute end and the idle window from now. */
export function refreshTokenExpiry(client: Client, familyExpiresAt: string | null, now: number): string | null {
  const settings = client.refresh_token;
  const idle =
    settings.expiration_type === 'expiring' && !settings.infinite_idle_token_lifetime
      ? now + settings.idle_token_lifetime * 1000
      : undefined;
  const absolute = familyExpiresAt ? Date.parse(familyExpiresAt) : undefined;
  const end = idle !== undefined && absolute !== undefined ? Math.min(idle, absolute) : (idle ?? absolute);
  return end === undefined ? null : new Date(end).toISOString();
}
