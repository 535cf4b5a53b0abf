import type { ServerMetadata } from './discovery.js';
import { AccessDenied, OAuthRequestFailed, StateMismatch } from './errors.js';
import { codeChallengeS256, randomToken } from './pkce.js';

export interface AuthorizationParams {
  clientId: string;
  redirectUri: string;
  scope: string;
  audience?: string;
  /** Seconds; the id_token must then carry an auth_time no older than this (OIDC Core §3.1.2.1). */
  maxAge?: number;
  prompt?: 'none' | 'login' | 'consent' | 'select_account';
  connection?: string;
  loginHint?: string;
  /** Anything else for /authorize (e.g. `screen_hint: 'signup'`, `organization`). */
  extraParams?: Record<string, string>;
}

/** The secrets of one login attempt; they never leave this process except as the PKCE challenge. */
export interface PendingAuthorization {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  maxAge: number | undefined;
}

export async function buildAuthorizationRequest(metadata: ServerMetadata, params: AuthorizationParams): Promise<PendingAuthorization> {
  const state = randomToken();
  const nonce = randomToken();
  const codeVerifier = randomToken();
  const url = new URL(metadata.authorization_endpoint);
  const query: Record<string, string | undefined> = {
    ...params.extraParams,
    response_type: 'code',
    client_id: params.clientId,
    redirect_uri: params.redirectUri,
    scope: params.scope,
    audience: params.audience,
    state,
    nonce,
    code_challenge: await codeChallengeS256(codeVerifier),
    code_challenge_method: 'S256',
    max_age: params.maxAge?.toString(),
    prompt: params.prompt,
    connection: params.connection,
    login_hint: params.loginHint,
  };
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
  return { url: url.href, state, nonce, codeVerifier, redirectUri: params.redirectUri, maxAge: params.maxAge };
}

/**
 * Checks the callback before anything in it is trusted: state first (a forged callback's error or
 * code is never acted on), then the RFC 9207 `iss` (mix-up attacks), then error or code.
 */
export function parseAuthorizationResponse(callbackUrl: string, expected: { state: string; issuer: string; issRequired: boolean }): string {
  const params = new URL(callbackUrl).searchParams;
  if (params.get('state') !== expected.state) throw new StateMismatch();
  const iss = params.get('iss');
  if (iss !== null ? iss !== expected.issuer : expected.issRequired) {
    throw new OAuthRequestFailed('invalid_request', `The response comes from issuer ${iss ?? '(none)'}, expected ${expected.issuer}`);
  }
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description') ?? undefined;
    throw error === 'access_denied' ? new AccessDenied(description) : new OAuthRequestFailed(error, description);
  }
  const code = params.get('code');
  if (!code) throw new OAuthRequestFailed('invalid_request', 'The sign-in response carries neither a code nor an error');
  return code;
}

/** Whether a URL is a callback for `redirectUri` (same scheme, host and path; the query is the response). */
export function isCallbackFor(redirectUri: string, url: string): boolean {
  try {
    const expected = new URL(redirectUri);
    const actual = new URL(url);
    return actual.protocol === expected.protocol && actual.host === expected.host && actual.pathname === expected.pathname;
  } catch {
    return false;
  }
}
