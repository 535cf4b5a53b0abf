import * as oauth from 'oauth4webapi';
import type { Encrypter } from '../crypto/encryption.js';
import type { Connection, Identity, User, UserRecord } from '../domain/types.js';
import { connectionSecret, expectedIssuerOf, insecureUrlAllowed, upstreamUrlProblem } from '../domain/upstream-options.js';
import { recordEvent } from '../events/emit.js';
import type { Storage } from '../storage/types.js';
import { ProfileScriptError, runFetchUserProfile } from './sandbox/profile-script.js';

/** How long latchkey waits for an upstream provider before telling the app it failed. */
const UPSTREAM_TIMEOUT_MS = 10_000;
const DISCOVERY_TTL_MS = 10 * 60_000;
/** Seconds of clock difference tolerated in the provider's id_token `iat`/`exp`. */
const CLOCK_TOLERANCE_S = 60;

/**
 * Ends an upstream sign-in. A provider's own failure (it refused, could not be reached, its script
 * failed) goes back to the app as `access_denied` or `server_error`, as in Auth0. An answer that
 * fails a check (`refused`: an `iss` or issuer of another provider, a forged or misdirected
 * id_token) is an attack or a misconfiguration: latchkey shows its own error page and signs no one in.
 */
export class UpstreamLoginError extends Error {
  override name = 'UpstreamLoginError';
  constructor(
    readonly error: 'access_denied' | 'server_error',
    readonly description: string,
    readonly refused = false,
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

/** The provider as oauth4webapi sees it, with this connection as its client. */
interface UpstreamProvider {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  /** Whether `iss` of the authorization response can be checked: the provider's issuer is known. */
  issuerKnown: boolean;
}

export const upstreamCallbackUrl = (issuer: string) => `${issuer}login/callback`;

const scopeOf = (options: Record<string, unknown>, fallback: string) => {
  const scope = options.scope ?? options.scopes;
  return Array.isArray(scope) ? scope.join(' ') : typeof scope === 'string' && scope ? scope : fallback;
};

/** Request options for one URL: a timeout, and plain http only where the URL is a loopback one. */
const requestOptions = (url: string | undefined) => ({
  signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
  ...(url !== undefined && insecureUrlAllowed(url) ? { [oauth.allowInsecureRequests]: true } : {}),
});

/**
 * Checks whose failure means the answer is not from the provider this sign-in went to (RFC 9700
 * §4.4 mix-up, RFC 9207 `iss`), or a token not minted for this client and sign-in: refused.
 * Anything else (HTTP errors, bodies that are not JSON) is the provider failing, told to the app.
 */
const REFUSED_CODES = new Set<string>([
  oauth.INVALID_RESPONSE,
  oauth.JSON_ATTRIBUTE_COMPARISON,
  oauth.JWT_CLAIM_COMPARISON,
  oauth.JWT_TIMESTAMP_CHECK,
  oauth.KEY_SELECTION,
  oauth.MISSING_SERVER_METADATA,
  oauth.INVALID_SERVER_METADATA,
  oauth.HTTP_REQUEST_FORBIDDEN,
  oauth.REQUEST_PROTOCOL_FORBIDDEN,
]);

/** oauth4webapi's errors, in the two kinds above. */
function upstreamFailure(err: unknown, what: string): UpstreamLoginError {
  if (err instanceof UpstreamLoginError) return err;
  if (err instanceof oauth.ResponseBodyError) {
    const detail = err.error_description ? `${err.error}: ${err.error_description}` : err.error;
    return new UpstreamLoginError('server_error', `The identity provider refused the authorization code (${detail})`);
  }
  if (
    err instanceof oauth.UnsupportedOperationError ||
    (err instanceof oauth.OperationProcessingError && REFUSED_CODES.has(err.code ?? ''))
  ) {
    return new UpstreamLoginError('server_error', `${what} was refused: ${err.message}`, true);
  }
  const reason = err instanceof Error ? (err.cause instanceof Error ? `${err.message} (${err.cause.message})` : err.message) : String(err);
  return new UpstreamLoginError('server_error', `${what} failed: ${reason}`);
}

const discoveryCache = new Map<string, { at: number; as: Promise<oauth.AuthorizationServer> }>();

/**
 * OIDC Discovery through oauth4webapi, cached for a few minutes per URL and expected issuer. The
 * document's `issuer` must be the one configured (or read off the discovery URL, OIDC Discovery
 * §4.3): a provider naming another issuer is refused, not believed, so that the `iss` of its
 * answers and the `iss` of its id_tokens are checked against what the operator configured.
 */
function discover(connection: Connection, now: number): Promise<oauth.AuthorizationServer> {
  const expected = expectedIssuerOf(connection.options);
  if ('problem' in expected)
    return Promise.reject(new UpstreamLoginError('server_error', `Connection ${connection.name}: ${expected.problem}`, true));
  const { issuer, discoveryUrl } = expected;
  const key = `${discoveryUrl ?? ''} ${issuer.href}`;
  const hit = discoveryCache.get(key);
  if (hit && now - hit.at < DISCOVERY_TTL_MS) return hit.as;
  const as = (async () => {
    // oauth4webapi derives the well-known URL from the issuer; a configured discovery_url is fetched as given.
    const response = discoveryUrl
      ? await fetch(discoveryUrl, { ...requestOptions(discoveryUrl), headers: { accept: 'application/json' }, redirect: 'manual' })
      : await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(issuer.href) });
    const metadata = await oauth.processDiscoveryResponse(issuer, response);
    if (!metadata.authorization_endpoint || !metadata.token_endpoint || !metadata.jwks_uri) {
      throw new UpstreamLoginError('server_error', 'The discovery document lacks authorization_endpoint, token_endpoint or jwks_uri', true);
    }
    return metadata;
  })();
  discoveryCache.set(key, { at: now, as });
  as.catch(() => discoveryCache.delete(key));
  return as;
}

/** Configured (or discovered) URLs that are not https, checked again in case they were stored before the rule. */
function assertUpstreamUrls(connection: Connection, urls: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(urls)) {
    const problem = typeof value === 'string' ? upstreamUrlProblem(value) : undefined;
    if (problem) throw new UpstreamLoginError('server_error', `Connection ${connection.name}: ${name} ${problem}`, true);
  }
}

async function providerOf(ctx: UpstreamContext, connection: Connection): Promise<UpstreamProvider> {
  const options = connection.options;
  const { authorizationURL, tokenURL, discovery_url, issuer } = options;
  assertUpstreamUrls(connection, connection.strategy === 'oauth2' ? { authorizationURL, tokenURL } : { discovery_url, issuer });
  const client: oauth.Client = {
    client_id: String(options.client_id),
    // The provider's tokens are checked against latchkey's clock (a test clock included).
    [oauth.clockSkew]: (ctx.now() - Date.now()) / 1000,
    [oauth.clockTolerance]: CLOCK_TOLERANCE_S,
  };
  if (connection.strategy === 'oauth2') {
    // No discovery for custom OAuth2 connections (Auth0 has none): the endpoints are configured, and
    // so, optionally, is the issuer whose `iss` the authorization response must carry.
    const issuer = typeof options.issuer === 'string' ? options.issuer : undefined;
    const as: oauth.AuthorizationServer = {
      issuer: issuer ?? new URL(String(options.authorizationURL)).origin,
      authorization_endpoint: String(options.authorizationURL),
      token_endpoint: String(options.tokenURL),
    };
    return { as, client, issuerKnown: issuer !== undefined };
  }
  let as: oauth.AuthorizationServer;
  try {
    as = await discover(connection, ctx.now());
  } catch (err) {
    throw upstreamFailure(err, `Discovery of the identity provider of connection ${connection.name}`);
  }
  assertUpstreamUrls(connection, { authorization_endpoint: as.authorization_endpoint });
  return { as, client, issuerKnown: true };
}

/** The upstream authorization request; PKCE always for OIDC, for OAuth2 when the connection enables it. */
export async function upstreamAuthorization(
  ctx: UpstreamContext,
  connection: Connection,
  state: string,
): Promise<{ url: string; codeVerifier?: string; nonce?: string }> {
  const { as, client } = await providerOf(ctx, connection);
  const oidc = connection.strategy === 'oidc';
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('redirect_uri', upstreamCallbackUrl(ctx.issuer));
  const scope = scopeOf(connection.options, oidc ? 'openid profile email' : '');
  if (scope) url.searchParams.set('scope', scope);
  url.searchParams.set('state', state);
  const result: { url: string; codeVerifier?: string; nonce?: string } = { url: '' };
  if (oidc || connection.options.pkce_enabled === true) {
    result.codeVerifier = oauth.generateRandomCodeVerifier();
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(result.codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  if (oidc) {
    result.nonce = oauth.generateRandomNonce();
    url.searchParams.set('nonce', result.nonce);
  }
  result.url = url.toString();
  return result;
}

/**
 * A custom OAuth2 provider's token response, made acceptable to oauth4webapi without weakening
 * it: some providers (GitHub, by default) answer form-encoded or leave out `token_type`, which
 * Auth0's custom connections accept. Its id_token, if any, is not this connection's to check (the
 * profile comes from the script, which still sees it): it is left out of what oauth4webapi reads.
 */
async function oauth2TokenResponse(response: Response): Promise<{ response: Response; raw: Record<string, unknown> }> {
  const text = await response.text();
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    raw = Object.fromEntries(new URLSearchParams(text));
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) raw = {};
  const { id_token: _idToken, ...checked } = raw;
  if (response.ok && checked.token_type === undefined) checked.token_type = 'bearer';
  const headers = new Headers(response.headers);
  headers.set('content-type', 'application/json');
  return { response: new Response(JSON.stringify(checked), { status: response.status, headers }), raw };
}

/**
 * RFC 6749 §4.1.3 against the provider with oauth4webapi, client_secret_post as Auth0's custom
 * connections do. OIDC: the id_token's iss, aud, azp, exp, iat and nonce are checked (OIDC Core
 * §3.1.3.7), then its signature against the provider's JWKS.
 */
async function exchangeCode(
  ctx: UpstreamContext,
  connection: Connection,
  provider: UpstreamProvider,
  callback: URLSearchParams,
  pending: { codeVerifier?: string; nonce?: string },
): Promise<{ tokens: Record<string, unknown> & { access_token: string }; claims?: oauth.IDToken }> {
  const { as, client } = provider;
  const secret = connectionSecret(ctx.secrets, connection);
  const customHeaders = (connection.options.customHeaders ?? {}) as Record<string, string>;
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      secret !== undefined ? oauth.ClientSecretPost(secret) : oauth.None(),
      callback,
      upstreamCallbackUrl(ctx.issuer),
      pending.codeVerifier ?? oauth.nopkce,
      { headers: new Headers(customHeaders), ...requestOptions(as.token_endpoint) },
    );
  } catch (err) {
    throw upstreamFailure(err, "Reaching the identity provider's token endpoint");
  }
  try {
    if (connection.strategy === 'oauth2') {
      const { response: checked, raw } = await oauth2TokenResponse(response);
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, checked);
      return { tokens: { ...raw, ...tokens } };
    }
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: pending.nonce ?? oauth.expectNoNonce,
      requireIdToken: true,
    });
    await oauth.validateApplicationLevelSignature(as, response, requestOptions(as.jwks_uri));
    return { tokens, claims: oauth.getValidatedIdTokenClaims(tokens)! };
  } catch (err) {
    throw upstreamFailure(err, "The identity provider's token response");
  }
}

export interface UpstreamProfile extends Record<string, unknown> {
  user_id: string;
}

async function profileOf(
  ctx: UpstreamContext,
  connection: Connection,
  provider: UpstreamProvider,
  tokens: Record<string, unknown> & { access_token: string },
  claims: oauth.IDToken | undefined,
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
  // OIDC: the verified id_token's claims are the profile, completed from userinfo when it answers.
  if (!claims) throw new UpstreamLoginError('server_error', 'The identity provider returned no id_token', true);
  let userinfo: Record<string, unknown> = {};
  if (provider.as.userinfo_endpoint) {
    try {
      const response = await oauth.userInfoRequest(
        provider.as,
        provider.client,
        tokens.access_token,
        requestOptions(provider.as.userinfo_endpoint),
      );
      // OIDC Core §5.3.2: an answer about someone else is refused by processUserInfoResponse.
      userinfo = { ...(await oauth.processUserInfoResponse(provider.as, provider.client, claims.sub, response)) };
    } catch (err) {
      ctx.log('upstream userinfo ignored', { connection: connection.name, reason: (err as Error).message });
    }
  }
  return { ...userinfo, ...claims, user_id: String(claims.sub) };
}

const PROFILE_FIELDS = ['email', 'name', 'nickname', 'picture', 'given_name', 'family_name'] as const;

/**
 * Creates the user `oauth2|NAME|id` (or `oidc|NAME|sub`) on first sign-in and refreshes its profile
 * and upstream tokens on later ones, so a person is one user however often they sign in.
 */
async function upsertUser(
  ctx: UpstreamContext,
  connection: Connection,
  profile: UpstreamProfile,
  tokens: Record<string, unknown>,
): Promise<User> {
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

  // Counted onto the user as stored under a lock: parallel sign-ins each count, and metadata a parallel
  // sign-in's Action saved meanwhile is kept.
  const updated = await ctx.storage.transaction(async (tx) => {
    const existing = await tx.users.lock(userId);
    if (!existing) return undefined;
    if (existing.user.blocked) throw new UpstreamLoginError('access_denied', 'user is blocked');
    const user: User = {
      ...existing.user,
      ...fields,
      identities: [identity],
      updated_at: now,
      last_login: now,
      logins_count: existing.user.logins_count + 1,
    };
    if ((await tx.users.update({ ...existing, user })) === 'conflict') {
      throw new UpstreamLoginError('server_error', 'Another user of this connection already has that email address');
    }
    return user;
  });
  if (updated) return updated;
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
  if (!(await ctx.storage.users.insert(record))) {
    throw new UpstreamLoginError('server_error', 'Another user of this connection already has that email address');
  }
  return user;
}

export interface UpstreamSignIn {
  user: User;
  /** OIDC connections: the provider's id_token, the hint of a later federated logout. */
  idToken?: string;
}

/**
 * The provider's answer at /login/callback, turned into a latchkey user (or an error). `callback`
 * is the whole query: oauth4webapi checks its `state` and, RFC 9207, its `iss`: required when the
 * provider advertises `authorization_response_iss_parameter_supported`, and always equal to the
 * provider's issuer when present, so a code another provider issued is never sent to this one.
 */
export async function completeUpstreamLogin(
  ctx: UpstreamContext,
  connection: Connection,
  pending: { codeVerifier?: string; nonce?: string },
  callback: URLSearchParams,
  state: string,
): Promise<UpstreamSignIn> {
  try {
    return await completeUnrecorded(ctx, connection, pending, callback, state);
  } catch (err) {
    // Auth0's failed login through a connection (a refused answer, a failing fetchUserProfile script).
    if (err instanceof UpstreamLoginError) {
      const strategy = { strategy: connection.strategy, strategy_type: 'social' };
      recordEvent({
        type: 'f',
        description: err.message.slice(0, 500),
        connection: connection.name,
        connection_id: connection.id,
        ...strategy,
      });
    }
    throw err;
  }
}

async function completeUnrecorded(
  ctx: UpstreamContext,
  connection: Connection,
  pending: { codeVerifier?: string; nonce?: string },
  callback: URLSearchParams,
  state: string,
): Promise<UpstreamSignIn> {
  const provider = await providerOf(ctx, connection);
  const answer = new URLSearchParams(callback);
  // A custom OAuth2 connection without a configured issuer has nothing to compare `iss` with.
  if (!provider.issuerKnown) answer.delete('iss');
  let checked: URLSearchParams;
  try {
    checked = oauth.validateAuthResponse(provider.as, provider.client, answer, state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      const description = err.error_description ? `${err.error}: ${err.error_description}` : err.error;
      throw new UpstreamLoginError(
        err.error === 'access_denied' ? 'access_denied' : 'server_error',
        `The identity provider answered ${description}`,
      );
    }
    throw upstreamFailure(err, `The answer of the identity provider of connection ${connection.name}`);
  }
  if (!checked.get('code')) throw new UpstreamLoginError('server_error', 'The identity provider returned neither a code nor an error');
  const { tokens, claims } = await exchangeCode(ctx, connection, provider, checked, pending);
  const profile = await profileOf(ctx, connection, provider, tokens, claims);
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
  let as: oauth.AuthorizationServer;
  try {
    ({ as } = await providerOf(ctx, connection));
  } catch (err) {
    ctx.log('federated logout skipped', { connection: connection.name, reason: (err as Error).message });
    return undefined;
  }
  let url: URL;
  try {
    // Discovery is the provider's word: a missing or malformed endpoint only skips this step.
    url = new URL(typeof as.end_session_endpoint === 'string' ? as.end_session_endpoint : '');
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
