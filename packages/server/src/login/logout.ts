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

/** The longest return URL accepted after logout: the registered part is at most 2048, the rest is the app's query. */
export const MAX_RETURN_URL_LENGTH = 4096;

/**
 * Why a requested return URL is refused before it is even compared, if it is. Control characters
 * (a newline is a header-injection attempt) have no place in a URL a browser sent.
 */
export function returnUrlProblem(name: string, url: string): string | undefined {
  if (url.length > MAX_RETURN_URL_LENGTH) return `The "${name}" URL is too long (at most ${MAX_RETURN_URL_LENGTH} characters).`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(url)) return `The "${name}" URL must not contain control characters.`;
  return undefined;
}

/**
 * The URL as a Location header can carry it: every byte outside printable ASCII (spaces, non-ASCII,
 * in the query an app added or in a registered URL with a Unicode host) is percent-encoded as
 * UTF-8, as a browser would; everything else is left exactly as the app sent it. Header values
 * must be Latin-1, so `€` unencoded would fail the response.
 */
export function percentEncodeForHeader(url: string): string {
  // Buffer.from replaces a lone surrogate by U+FFFD instead of throwing as encodeURI would.
  return url.replace(/[^\x21-\x7e]+/g, (run) => [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
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
