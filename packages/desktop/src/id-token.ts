import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from 'jose';
import type { FetchLike } from './config.js';
import type { ServerMetadata } from './discovery.js';
import { IdTokenInvalid } from './errors.js';

/** The signed-in user as the id_token describes them (OIDC standard claims, plus any custom ones). */
export interface UserProfile extends JWTPayload {
  sub: string;
  name?: string;
  nickname?: string;
  picture?: string;
  email?: string;
  email_verified?: boolean;
  updated_at?: string;
  [claim: string]: unknown;
}

export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  leewaySeconds: number;
  now: number;
  /** The nonce sent at /authorize. Refresh and device-flow id_tokens carry none. */
  nonce?: string;
  /** The max_age sent at /authorize: auth_time must then be present and recent enough. */
  maxAge?: number;
  /** On refresh, the user must still be the same one. */
  sub?: string;
}

export type IdTokenVerifier = (idToken: string, expected: IdTokenExpectations) => Promise<UserProfile>;

/**
 * An id_token verifier for one issuer. jose checks the signature against the JWKS (refetched on an
 * unknown kid, so key rotation works), iss, aud, exp with leeway; the rest is OIDC Core §3.1.3.7.
 * Symmetric and `none` algorithms are never accepted: a public client has no secret to check them with.
 */
export function idTokenVerifier(metadata: ServerMetadata, fetchImpl: FetchLike): IdTokenVerifier {
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), {
    [customFetch]: (url, init) => fetchImpl(url, init),
  });
  const algorithms = (metadata.id_token_signing_alg_values_supported ?? ['RS256']).filter((alg) => alg !== 'none' && !alg.startsWith('HS'));

  return async (idToken, expected) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        issuer: expected.issuer,
        audience: expected.clientId,
        algorithms,
        clockTolerance: expected.leewaySeconds,
        currentDate: new Date(expected.now),
        requiredClaims: ['sub', 'iat', 'exp'],
      }));
    } catch (cause) {
      const reason = cause instanceof errors.JOSEError ? cause.message : 'unreadable token';
      throw new IdTokenInvalid(reason, { cause });
    }
    const nowSeconds = expected.now / 1000;
    if (typeof payload.iat !== 'number' || payload.iat > nowSeconds + expected.leewaySeconds)
      throw new IdTokenInvalid('issued in the future (iat)');
    // §3.1.3.7 (4)/(5): with several audiences the token must name us as its authorised party.
    if ((Array.isArray(payload.aud) && payload.aud.length > 1) || payload.azp !== undefined) {
      if (payload.azp !== expected.clientId) throw new IdTokenInvalid('azp is not this client');
    }
    if (expected.nonce !== undefined && payload.nonce !== expected.nonce)
      throw new IdTokenInvalid('nonce mismatch (replayed or foreign token)');
    if (expected.maxAge !== undefined) {
      if (typeof payload.auth_time !== 'number') throw new IdTokenInvalid('auth_time missing although max_age was requested');
      if (payload.auth_time + expected.maxAge + expected.leewaySeconds < nowSeconds)
        throw new IdTokenInvalid('the sign-in is older than max_age');
    }
    if (expected.sub !== undefined && payload.sub !== expected.sub) throw new IdTokenInvalid('the refreshed id_token is for another user');
    return payload as UserProfile;
  };
}
