import { decodeJwt } from 'jose';
import type { KeyRing } from '../crypto/keys.js';
import { verifyOwnJwt } from '../oauth/own-jwt.js';

/**
 * Whether a return URL after logout is registered. The comparison is exact, except that a query
 * string on the requested URL is allowed (Auth0 lets apps carry their own state there); the
 * registered URL itself must then have none.
 */
export function logoutUrlAllowed(allowed: readonly string[], requested: string): boolean {
  if (allowed.includes(requested)) return true;
  const queryAt = requested.indexOf('?');
  return queryAt > 0 && !requested.includes('#') && allowed.includes(requested.slice(0, queryAt));
}

export interface IdTokenHint {
  clientId: string;
  userId: string;
  sid?: string;
}

/**
 * An id_token_hint must be one we signed; it may have expired (OIDC RP-Initiated Logout §2), so it is
 * verified as of its own issue time.
 */
export async function readIdTokenHint(keys: KeyRing, issuer: string, token: string): Promise<IdTokenHint | undefined> {
  try {
    const { iat } = decodeJwt(token);
    if (typeof iat !== 'number') return undefined;
    const payload = await verifyOwnJwt(keys, issuer, token, { currentDate: new Date(iat * 1000) });
    const clientId = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    if (typeof clientId !== 'string' || typeof payload.sub !== 'string') return undefined;
    return { clientId, userId: payload.sub, ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}) };
  } catch {
    return undefined;
  }
}
