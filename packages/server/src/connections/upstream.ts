import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Encrypter } from '../crypto/encryption.js';
import { connectionSecret } from '../model/upstream-options.js';
import type { Connection, Identity, Storage, User, UserRecord } from '../storage/types.js';
import { ProfileScriptError, runFetchUserProfile } from './sandbox/profile-script.js';

/** How long latchkey waits for an upstream provider before telling the app it failed. */
const UPSTREAM_TIMEOUT_MS = 10_000;
const DISCOVERY_TTL_MS = 10 * 60_000;

/** Ends an upstream sign-in; goes back to the app as `access_denied` or `server_error`. */
export class UpstreamLoginError extends Error {
  override name = 'UpstreamLoginError';
  constructor(
    readonly error: 'access_denied' | 'server_error',
    readonly description: string,
  ) {
    super(description);
  }
}

export interface UpstreamContext {
  issuer: string;
  storage: Storage;
  secrets: Encrypter;
  now: () => number;
  log: (message: string, data: Record<string, unknown>, level?: 'warn' | 'debug') => void;
}

interface ProviderEndpoints {
  issuer?: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  jwks?: JWTVerifyGetKey;
  userinfoEndpoint?: string;
  /** OIDC RP-Initiated Logout 1.0: where `federated` logout sends the browser. */
  endSessionEndpoint?: string;
}

export const upstreamCallbackUrl = (issuer: string) => `${issuer}login/callback`;

const scopeOf = (options: Record<string, unknown>, fallback: string) => {
  const scope = options.scope ?? options.scopes;
  return Array.isArray(scope) ? scope.join(' ') : typeof scope === 'string' && scope ? scope : fallback;
};

const discoveryCache = new Map<string, { at: number; endpoints: Promise<ProviderEndpoints> }>();

/** OIDC Discovery, cached for a few minutes per URL; the JWKS refreshes itself on unknown kids. */
function discover(url: string, now: number): Promise<ProviderEndpoints> {
  const hit = discoveryCache.get(url);
  if (hit && now - hit.at < DISCOVERY_TTL_MS) return hit.endpoints;
  const endpoints = (async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`discovery answered ${response.status}`);
    const metadata = (await response.json()) as Record<string, string | undefined>;
    if (!metadata.authorization_endpoint || !metadata.token_endpoint || !metadata.jwks_uri || !metadata.issuer) {
      throw new Error('discovery document lacks authorization_endpoint, token_endpoint, jwks_uri or issuer');
    }
    return {
      issuer: metadata.issuer,
      authorizationEndpoint: metadata.authorization_endpoint,
      tokenEndpoint: metadata.token_endpoint,
      jwks: createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: UPSTREAM_TIMEOUT_MS }),
      ...(metadata.userinfo_endpoint ? { userinfoEndpoint: metadata.userinfo_endpoint } : {}),
      ...(metadata.end_session_endpoint ? { endSessionEndpoint: metadata.end_session_endpoint } : {}),
    };
  })();
  discoveryCache.set(url, { at: now, endpoints });
  endpoints.catch(() => discoveryCache.delete(url));
  return endpoints;
}

async function endpointsOf(connection: Connection, now: number): Promise<ProviderEndpoints> {
  const options = connection.options;
  if (connection.strategy === 'oauth2') {
    return { authorizationEndpoint: String(options.authorizationURL), tokenEndpoint: String(options.tokenURL) };
  }
  const discoveryUrl =
    typeof options.discovery_url === 'string'
      ? options.discovery_url
      : `${String(options.issuer).replace(/\/$/, '')}/.well-known/openid-configuration`;
  try {
    return await discover(discoveryUrl, now);
  } catch (err) {
    throw new UpstreamLoginError('server_error', `The identity provider of connection ${connection.name} could not be discovered: ${(err as Error).message}`);
  }
}

/** The upstream authorization request; PKCE always for OIDC, for OAuth2 when the connection enables it. */
export async function upstreamAuthorization(
  ctx: UpstreamContext,
  connection: Connection,
  state: string,
): Promise<{ url: string; codeVerifier?: string; nonce?: string }> {
  const endpoints = await endpointsOf(connection, ctx.now());
  const oidc = connection.strategy === 'oidc';
  const url = new URL(endpoints.authorizationEndpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', String(connection.options.client_id));
  url.searchParams.set('redirect_uri', upstreamCallbackUrl(ctx.issuer));
  url.searchParams.set('scope', scopeOf(connection.options, oidc ? 'openid profile email' : ''));
  url.searchParams.set('state', state);
  if (!url.searchParams.get('scope')) url.searchParams.delete('scope');
  const result: { url: string; codeVerifier?: string; nonce?: string } = { url: '' };
  if (oidc || connection.options.pkce_enabled === true) {
    result.codeVerifier = randomBytes(32).toString('base64url');
    url.searchParams.set('code_challenge', createHash('sha256').update(result.codeVerifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  if (oidc) {
    result.nonce = randomBytes(16).toString('base64url');
    url.searchParams.set('nonce', result.nonce);
  }
  result.url = url.toString();
  return result;
}

/** RFC 6749 §4.1.3 against the provider, with client_secret_post as Auth0's custom connections do. */
async function exchangeCode(ctx: UpstreamContext, connection: Connection, endpoints: ProviderEndpoints, code: string, codeVerifier?: string) {
  const secret = connectionSecret(ctx.secrets, connection);
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: upstreamCallbackUrl(ctx.issuer),
    client_id: String(connection.options.client_id),
    ...(secret !== undefined ? { client_secret: secret } : {}),
    ...(codeVerifier ? { code_verifier: codeVerifier } : {}),
  });
  const customHeaders = (connection.options.customHeaders ?? {}) as Record<string, string>;
  let response: Response;
  try {
    response = await fetch(endpoints.tokenEndpoint, {
      method: 'POST',
      headers: { ...customHeaders, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
  } catch (err) {
    throw new UpstreamLoginError('server_error', `The identity provider's token endpoint could not be reached: ${(err as Error).message}`);
  }
  const text = await response.text();
  let tokens: Record<string, unknown>;
  try {
    tokens = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Some OAuth2 providers (GitHub, by default) answer form-encoded.
    tokens = Object.fromEntries(new URLSearchParams(text));
  }
  if (!response.ok || typeof tokens.access_token !== 'string') {
    const detail = typeof tokens.error === 'string' ? `${tokens.error}${tokens.error_description ? `: ${String(tokens.error_description)}` : ''}` : `HTTP ${response.status}`;
    throw new UpstreamLoginError('server_error', `The identity provider refused the authorization code (${detail})`);
  }
  return tokens as Record<string, unknown> & { access_token: string };
}

export interface UpstreamProfile extends Record<string, unknown> {
  user_id: string;
}

async function profileOf(
  ctx: UpstreamContext,
  connection: Connection,
  endpoints: ProviderEndpoints,
  tokens: Record<string, unknown> & { access_token: string },
  nonce: string | undefined,
): Promise<UpstreamProfile> {
  if (connection.strategy === 'oauth2') {
    const script = String((connection.options.scripts as Record<string, unknown>).fetchUserProfile);
    try {
      const profile = await runFetchUserProfile(script, tokens.access_token, tokens, {
        log: (message, data, level) => ctx.log(message, { connection: connection.name, ...data }, level),
      });
      return { ...profile, user_id: String(profile.user_id) };
    } catch (err) {
      if (!(err instanceof ProfileScriptError)) throw err;
      ctx.log('fetchUserProfile failed', { connection: connection.name, reason: err.reason, message: err.message });
      throw new UpstreamLoginError('server_error', `The fetchUserProfile script of connection ${connection.name} failed: ${err.message}`);
    }
  }
  // OIDC: the id_token is verified (signature, issuer, audience, nonce) and its claims are the profile.
  if (typeof tokens.id_token !== 'string') throw new UpstreamLoginError('server_error', 'The identity provider returned no id_token');
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(tokens.id_token, endpoints.jwks!, {
      issuer: endpoints.issuer!,
      audience: String(connection.options.client_id),
      currentDate: new Date(ctx.now()),
      clockTolerance: 60,
    }));
  } catch (err) {
    throw new UpstreamLoginError('server_error', `The identity provider's id_token is invalid: ${(err as Error).message}`);
  }
  if (claims.nonce !== nonce) throw new UpstreamLoginError('server_error', "The identity provider's id_token has the wrong nonce");
  let userinfo: Record<string, unknown> = {};
  if (endpoints.userinfoEndpoint) {
    const response = await fetch(endpoints.userinfoEndpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    }).catch(() => undefined);
    if (response?.ok) userinfo = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    // OIDC Core §5.3.2: a userinfo answer about someone else is ignored.
    if (userinfo.sub !== claims.sub) userinfo = {};
  }
  return { ...userinfo, ...claims, user_id: String(claims.sub) };
}

const PROFILE_FIELDS = ['email', 'name', 'nickname', 'picture', 'given_name', 'family_name'] as const;

/**
 * Creates the user `oauth2|NAME|id` (or `oidc|NAME|sub`) on first sign-in and refreshes its profile
 * and upstream tokens on later ones, so a person is one user however often they sign in.
 */
async function upsertUser(ctx: UpstreamContext, connection: Connection, profile: UpstreamProfile, tokens: Record<string, unknown>): Promise<User> {
  const provider = connection.strategy;
  const userId = `${provider}|${connection.name}|${profile.user_id}`;
  const now = new Date(ctx.now()).toISOString();
  const seal = (value: unknown) => (typeof value === 'string' ? ctx.secrets.encrypt(value, `identity ${userId}`) : undefined);
  const identity: Identity = {
    connection: connection.name,
    user_id: profile.user_id,
    provider,
    isSocial: provider === 'oauth2',
    ...(seal(tokens.access_token) ? { access_token: seal(tokens.access_token)! } : {}),
    ...(seal(tokens.refresh_token) ? { refresh_token: seal(tokens.refresh_token)! } : {}),
  };
  const fields: Partial<User> = {};
  for (const key of PROFILE_FIELDS) if (typeof profile[key] === 'string' && profile[key]) fields[key] = profile[key] as string;
  if (typeof profile.email_verified === 'boolean') fields.email_verified = profile.email_verified;

  const existing = await ctx.storage.getUser(userId);
  if (existing) {
    if (existing.user.blocked) throw new UpstreamLoginError('access_denied', 'user is blocked');
    const user: User = { ...existing.user, ...fields, identities: [identity], updated_at: now, last_login: now, logins_count: existing.user.logins_count + 1 };
    if ((await ctx.storage.updateUser({ ...existing, user })) === 'conflict') {
      throw new UpstreamLoginError('server_error', 'Another user of this connection already has that email address');
    }
    return user;
  }
  const user: User = {
    user_id: userId,
    email_verified: false,
    ...fields,
    name: fields.name ?? fields.email ?? profile.user_id,
    nickname: fields.nickname ?? fields.email?.split('@')[0] ?? profile.user_id,
    identities: [identity],
    app_metadata: {},
    user_metadata: {},
    created_at: now,
    updated_at: now,
    last_login: now,
    logins_count: 1,
    blocked: false,
  };
  const record: UserRecord = { user, connection: connection.name, passwordHash: null };
  if (!(await ctx.storage.insertUser(record))) {
    throw new UpstreamLoginError('server_error', 'Another user of this connection already has that email address');
  }
  return user;
}

export interface UpstreamSignIn {
  user: User;
  /** OIDC connections: the provider's id_token, the hint of a later federated logout. */
  idToken?: string;
}

/** The provider's answer at /login/callback, turned into a latchkey user (or an error for the app). */
export async function completeUpstreamLogin(
  ctx: UpstreamContext,
  connection: Connection,
  pending: { codeVerifier?: string; nonce?: string },
  answer: { code?: string; error?: string; error_description?: string },
): Promise<UpstreamSignIn> {
  if (answer.error) {
    const description = answer.error_description ? `${answer.error}: ${answer.error_description}` : answer.error;
    throw new UpstreamLoginError(answer.error === 'access_denied' ? 'access_denied' : 'server_error', `The identity provider answered ${description}`);
  }
  if (!answer.code) throw new UpstreamLoginError('server_error', 'The identity provider returned neither a code nor an error');
  const endpoints = await endpointsOf(connection, ctx.now());
  const tokens = await exchangeCode(ctx, connection, endpoints, answer.code, pending.codeVerifier);
  const profile = await profileOf(ctx, connection, endpoints, tokens, pending.nonce);
  if (!profile.user_id || profile.user_id.length > 255) throw new UpstreamLoginError('server_error', 'The profile has no usable user_id');
  const user = await upsertUser(ctx, connection, profile, tokens);
  return { user, ...(connection.strategy === 'oidc' && typeof tokens.id_token === 'string' ? { idToken: tokens.id_token } : {}) };
}

/** Associated data of a session's sealed upstream id_token: it opens for that user only. */
export const upstreamIdTokenContext = (userId: string) => `upstream id_token ${userId}`;

/**
 * Where `federated` logout sends the browser after latchkey's own session has ended: the OIDC
 * provider's end_session_endpoint (RP-Initiated Logout 1.0 §2), with the id_token it issued as the
 * hint and the app's return URL, which must also be registered at the provider. OAuth2 connections
 * have no such endpoint, and a provider that cannot be discovered right now is skipped: neither
 * may keep the user from being logged out of latchkey.
 */
export async function federatedLogoutUrl(
  ctx: UpstreamContext,
  connection: Connection,
  session: { userId: string; upstreamIdToken?: string },
  back: { postLogoutRedirectUri?: string; state?: string },
): Promise<string | undefined> {
  if (connection.strategy !== 'oidc') return undefined;
  let endpoints: ProviderEndpoints;
  try {
    endpoints = await endpointsOf(connection, ctx.now());
  } catch (err) {
    ctx.log('federated logout skipped', { connection: connection.name, reason: (err as Error).message });
    return undefined;
  }
  let url: URL;
  try {
    // Discovery is the provider's word: a missing or malformed endpoint only skips this step.
    url = new URL(endpoints.endSessionEndpoint ?? '');
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  url.searchParams.set('client_id', String(connection.options.client_id));
  if (session.upstreamIdToken) {
    try {
      url.searchParams.set('id_token_hint', ctx.secrets.decrypt(session.upstreamIdToken, upstreamIdTokenContext(session.userId)));
    } catch {
      // Sealed under another master key: the provider will ask the user instead.
    }
  }
  if (back.postLogoutRedirectUri) {
    url.searchParams.set('post_logout_redirect_uri', back.postLogoutRedirectUri);
    if (back.state !== undefined) url.searchParams.set('state', back.state);
  }
  return url.href;
}
