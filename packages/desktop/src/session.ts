import type { UserProfile } from './id-token.js';

/**
 * What is persisted: only the refresh token and what it was issued for. Access and id tokens are
 * re-obtained by restore(); that keeps the value small (Windows Credential Manager caps a secret
 * at 2560 bytes) and avoids keeping expired tokens at rest.
 */
export interface PersistedSession {
  v: 1;
  issuer: string;
  clientId: string;
  refreshToken: string;
  audience?: string;
}

export function serialiseSession(session: PersistedSession): string {
  return JSON.stringify(session);
}

/** A stored value for another issuer or client (the app was reconfigured) is treated as absent. */
export function parseSession(value: string | null, issuer: string, clientId: string): PersistedSession | undefined {
  if (value === null) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<PersistedSession>;
    if (parsed.v !== 1 || parsed.issuer !== issuer || parsed.clientId !== clientId || typeof parsed.refreshToken !== 'string')
      return undefined;
    return parsed as PersistedSession;
  } catch {
    return undefined;
  }
}

export interface AccessToken {
  token: string;
  /** Milliseconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  scope?: string;
}

/** The signed-in state in memory. */
export interface Session {
  user: UserProfile;
  idToken: string;
  refreshToken?: string;
  /** Cached access tokens, keyed by audience ('' for the default one). */
  accessTokens: Map<string, AccessToken>;
  /** The audience login() asked for; getAccessToken() without one returns its token. */
  audience?: string;
}
