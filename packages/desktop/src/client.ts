import { linkedSignal, sleep, untilAborted } from './abort.js';
import {
  type AuthorizationParams,
  buildAuthorizationRequest,
  isCallbackFor,
  type PendingAuthorization,
  parseAuthorizationResponse,
} from './authorization.js';
import { BackgroundRefresh, platformTimers, type RefreshOutcome } from './background-refresh.js';
import { DEFAULT_SCOPE, type DesktopAuthOptions, type FetchLike, normaliseIssuer, withOpenid } from './config.js';
import { type DeviceCodePrompt, pollForDeviceTokens, requestDeviceAuthorization } from './device-flow.js';
import { discover, type ServerMetadata } from './discovery.js';
import { AudienceNotGranted, IdTokenInvalid, LoginCancelled, LoginRequired, LoginTimeout, TokenRefreshFailed } from './errors.js';
import { type AuthEvents, type AuthStatus, Emitter } from './events.js';
import { type IdTokenExpectations, type IdTokenVerifier, idTokenVerifier, type UserProfile } from './id-token.js';
import { PendingLogin } from './pending-login.js';
import type { OpenRedirect } from './redirect.js';
import { grantsAudience, isTransientFailure, type RefreshedTokens, type RefreshGrantContext, redeemRefreshToken } from './refresh.js';
import { parseSession, type Session, serialiseSession } from './session.js';
import { memoryStore, type TokenStore } from './storage.js';
import { revokeRefreshToken, type TokenResponse, tokenRequest } from './token-endpoint.js';

export interface LoginOptions
  extends Partial<Pick<AuthorizationParams, 'audience' | 'scope' | 'maxAge' | 'prompt' | 'connection' | 'loginHint' | 'extraParams'>> {
  /** Aborting rejects login() with LoginCancelled and closes the loopback listener. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface DeviceLoginOptions {
  /** Show the user the code and the URL (or a QR code of verificationUriComplete). */
  onPrompt: (prompt: DeviceCodePrompt) => void | Promise<void>;
  signal?: AbortSignal;
  audience?: string;
  scope?: string;
}

export interface GetAccessTokenOptions {
  /** Another API than the login's audience (needs multi-resource refresh tokens on Auth0). */
  audience?: string;
  /**
   * A narrower scope than the login's (RFC 6749 §6): the token is refreshed for it and cached
   * apart. The refresh token keeps the full scope.
   */
  scope?: string;
  /** Refresh even though the cached token is still valid. */
  forceRefresh?: boolean;
}

export interface LogoutOptions {
  /**
   * Where the provider sends the browser afterwards (`post_logout_redirect_uri`, or `returnTo` at
   * /v2/logout); must be registered with the app (Allowed Logout URLs).
   */
  returnTo?: string;
  /** Also end the upstream identity provider's session (Auth0 `federated`; only /v2/logout has it). */
  federated?: boolean;
}

export interface LogoutResult {
  /**
   * Open it in the system browser to end the browser's session at the server as well. Undefined
   * when the discovery document could not be read (offline), or when the provider has no browser
   * logout (see logoutUrl()): the local sign-out still happened.
   */
  logoutUrl: string | undefined;
  /** False when the revocation request failed (offline): the local session is gone regardless. */
  revoked: boolean;
}

interface Discovery {
  metadata: ServerMetadata;
  verify: IdTokenVerifier;
}

/** The key of a cached access token: its audience and, for a narrowed one, its scope. */
const cacheKey = (audience: string, scope: string | undefined) => (scope === undefined ? audience : `${audience} ${scope}`);

const DEFAULT_LOGIN_TIMEOUT_MS = 300_000;

/**
 * Sign-in for one app (client_id) at one issuer: system browser + PKCE login, device flow, silent
 * restore from the stored refresh token, access tokens refreshed one request at a time, logout.
 */
export class DesktopAuth {
  readonly issuer: string;
  readonly clientId: string;
  readonly #options: DesktopAuthOptions;
  readonly #fetch: FetchLike;
  readonly #now: () => number;
  readonly #store: TokenStore;
  readonly #leeway: number;
  readonly #events = new Emitter<AuthEvents>();
  #status: AuthStatus = 'signed-out';
  #discovery: Promise<Discovery> | undefined;
  #session: Session | undefined;
  #pendingLogin: PendingLogin | undefined;
  /** Refreshes, restore and logout run one after another: with rotation, two refreshes racing on one refresh token look like theft. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #inflight = new Map<string, Promise<string>>();
  readonly #background: BackgroundRefresh | undefined;
  #lastTokenResponse: TokenResponse | undefined;
  #disposed = false;

  constructor(options: DesktopAuthOptions) {
    this.issuer = normaliseIssuer(options);
    this.clientId = options.clientId;
    this.#options = options;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#store = options.store ?? memoryStore();
    this.#leeway = options.leewaySeconds ?? 60;
    if (options.backgroundRefresh) {
      this.#background = new BackgroundRefresh({
        timers: options.timers ?? platformTimers,
        now: this.#now,
        random: options.random ?? Math.random,
        settings: options.backgroundRefresh === true ? {} : options.backgroundRefresh,
        leewaySeconds: this.#leeway,
        refresh: () => this.#refreshInBackground(),
      });
    }
  }

  /**
   * Stops the background refresh for good (a refresh still in flight does not re-arm it) and cancels
   * a login in progress; the session stays stored.
   */
  dispose(): void {
    this.#disposed = true;
    this.#background?.stop();
    this.#pendingLogin?.cancel(new LoginCancelled('The app shut the sign-in down.'));
  }

  get status(): AuthStatus {
    return this.#status;
  }

  on<K extends keyof AuthEvents>(event: K, listener: (value: AuthEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** The signed-in user's id_token claims, or undefined when signed out. */
  getProfile(): UserProfile | undefined {
    return this.#session?.user;
  }

  /** The raw id_token of the session (validated), e.g. as `id_token_hint`; undefined when signed out. */
  getIdToken(): string | undefined {
    return this.#session?.idToken;
  }

  /**
   * The last token response as the server sent it (login, restore or refresh), for fields the SDK
   * does not model. It holds the refresh token: keep it in the process that owns the session.
   */
  getTokenResponse(): Readonly<TokenResponse> | undefined {
    return this.#session && this.#lastTokenResponse ? { ...this.#lastTokenResponse } : undefined;
  }

  /**
   * Everything that can fail before the user is sent to the browser, checked first: the discovery
   * document, and the token store (a keychain probe), so that a missing keychain is reported
   * before the user signs in rather than after, when the tokens would have to be thrown away.
   * login() and loginWithDeviceCode() call it; apps may call it to grey out a button.
   */
  async preflight(signal?: AbortSignal): Promise<void> {
    const discovery = this.#discover();
    await (signal ? untilAborted(discovery, signal) : discovery);
    const probe = this.#store.check ? this.#store.check() : this.#store.load().then(() => undefined);
    await (signal ? untilAborted(probe, signal) : probe);
  }

  /**
   * Interactive sign-in in the system browser (RFC 8252): authorization code + PKCE S256, state and
   * nonce. A newer login() cancels an older one still waiting (the user closed that tab).
   */
  async login(options: LoginOptions = {}): Promise<UserProfile> {
    const { redirect, openUrl } = this.#options;
    if (!redirect || !openUrl) throw new TypeError('login() needs the `redirect` and `openUrl` options (the node adapter provides both).');
    this.#pendingLogin?.cancel(new LoginCancelled('A newer sign-in replaced this one.'));
    const timeoutMs = options.timeoutMs ?? this.#options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
    const link = linkedSignal({
      ...(options.signal ? { parent: options.signal } : {}),
      timeoutMs,
      onTimeout: () => new LoginTimeout(timeoutMs),
      onParentAbort: () => new LoginCancelled(),
    });
    const pending = new PendingLogin(link.controller);
    this.#pendingLogin = pending;
    this.#setStatus('signing-in');
    let opened: OpenRedirect | undefined;
    try {
      // Discovery, the store, then the loopback port: all before the browser opens.
      await this.preflight(link.signal);
      const discovery = await this.#discover();
      opened = await untilAborted(redirect.open(pending.deliver), link.signal);
      const request = await buildAuthorizationRequest(discovery.metadata, {
        ...options,
        clientId: this.clientId,
        redirectUri: opened.redirectUri,
        scope: withOpenid(options.scope ?? this.#options.scope ?? DEFAULT_SCOPE),
        ...this.#audienceParam(options.audience),
      });
      const audience = options.audience ?? this.#options.audience;
      pending.arm(opened.redirectUri, (url) => this.#completeAuthorization(url, request, discovery, audience, link.signal));
      await untilAborted(Promise.resolve(openUrl(request.url)), link.signal);
      return await untilAborted(pending.result, link.signal);
    } catch (error) {
      if (this.#pendingLogin === pending) this.#setStatus(this.#session ? 'signed-in' : 'signed-out');
      throw error;
    } finally {
      link.dispose();
      if (this.#pendingLogin === pending) this.#pendingLogin = undefined;
      await opened?.close();
    }
  }

  /**
   * Hands a deep-link / custom-scheme callback to the login in progress. Returns false for a URL
   * that is not this app's redirect URI or when no login is waiting (a stale link): ignore those.
   */
  handleRedirect(url: string): boolean {
    const pending = this.#pendingLogin;
    if (!pending?.redirectUri || !isCallbackFor(pending.redirectUri, url)) return false;
    void pending.deliver(url);
    return true;
  }

  /** RFC 8628 device authorization grant, for machines without a browser (SSH, headless). */
  async loginWithDeviceCode(options: DeviceLoginOptions): Promise<UserProfile> {
    const link = linkedSignal({ ...(options.signal ? { parent: options.signal } : {}), onParentAbort: () => new LoginCancelled() });
    this.#setStatus('signing-in');
    try {
      await this.preflight(link.signal);
      const discovery = await this.#discover();
      const endpoint = discovery.metadata.device_authorization_endpoint ?? `${this.issuer}oauth/device/code`;
      const audience = options.audience ?? this.#options.audience;
      const startedAt = this.#now();
      const authorization = await requestDeviceAuthorization(
        this.#fetch,
        endpoint,
        {
          clientId: this.clientId,
          scope: withOpenid(options.scope ?? this.#options.scope ?? DEFAULT_SCOPE),
          ...this.#audienceParam(options.audience),
        },
        link.signal,
      );
      const { deviceCode: _secret, interval: _interval, ...prompt } = authorization;
      await options.onPrompt(prompt);
      const tokens = await pollForDeviceTokens({
        fetch: this.#fetch,
        tokenEndpoint: discovery.metadata.token_endpoint,
        clientId: this.clientId,
        authorization,
        startedAt,
        now: this.#now,
        sleep: this.#options.sleep ?? sleep,
        signal: link.signal,
      });
      return await this.#establish(tokens, discovery, {}, audience, link.signal);
    } catch (error) {
      this.#setStatus(this.#session ? 'signed-in' : 'signed-out');
      throw link.signal.aborted ? link.signal.reason : error;
    } finally {
      link.dispose();
    }
  }

  /**
   * Silent sign-in at start-up: redeems the stored refresh token. Resolves with the user, or with
   * undefined when there is nothing stored or the server no longer accepts it (storage is then
   * cleared). A network failure rejects with TokenRefreshFailed and keeps the stored token.
   */
  restore(): Promise<UserProfile | undefined> {
    return this.#serial(async () => {
      if (this.#session) return this.#session.user;
      const stored = parseSession(await this.#store.load(), this.issuer, this.clientId);
      if (!stored) return undefined;
      this.#setStatus('signing-in');
      try {
        const discovery = await this.#discover();
        let refreshToken = stored.refreshToken;
        const { tokens, user } = await redeemRefreshToken(
          this.#refreshContext(discovery, {}, async (rotated) => {
            refreshToken = rotated;
            await this.#persist(rotated, stored.audience);
          }),
          refreshToken,
        );
        // Restore has no earlier profile to keep: the provider must send an id_token here.
        if (!user || !tokens.id_token) throw new IdTokenInvalid('the refresh response has no id_token');
        this.#session = {
          user,
          idToken: tokens.id_token,
          refreshToken,
          accessTokens: new Map([[stored.audience ?? '', this.#accessTokenFrom(tokens)]]),
          ...(stored.audience !== undefined ? { audience: stored.audience } : {}),
        };
        this.#lastTokenResponse = tokens;
        this.#scheduleBackgroundRefresh(this.#session);
        this.#setStatus('signed-in');
        return user;
      } catch (error) {
        this.#setStatus('signed-out');
        if (error instanceof TokenRefreshFailed && error.loginRequired) return undefined;
        throw error;
      }
    });
  }

  /**
   * An access token for the login's audience (or `audience`): the cached one while it is valid,
   * else a refreshed one. Concurrent callers share one refresh request.
   */
  async getAccessToken(options: GetAccessTokenOptions = {}): Promise<string> {
    const session = this.#session;
    if (!session) throw new LoginRequired();
    const audience = options.audience ?? session.audience ?? '';
    const key = cacheKey(audience, options.scope);
    const cached = this.#validCached(session, key);
    if (cached && !options.forceRefresh) return cached;
    const inflight = this.#inflight.get(key);
    if (inflight) return inflight;
    const refresh = this.#serial(async () => {
      if (this.#session !== session) throw new LoginRequired('The session ended while waiting for a token.');
      // A refresh queued behind another one for the same audience may find a fresh token already.
      const fresh = this.#validCached(session, key);
      if (fresh && !options.forceRefresh) return fresh;
      return this.#refreshInto(session, { key, audience, ...(options.scope !== undefined ? { scope: options.scope } : {}) });
    }).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, refresh);
    return refresh;
  }

  /**
   * Revokes the refresh token (its whole rotation family) at the server, clears storage and memory,
   * and returns the URL that ends the browser's session too (see logoutUrl()).
   */
  logout(options: LogoutOptions = {}): Promise<LogoutResult> {
    return this.#serial(async () => {
      const refreshToken = this.#session?.refreshToken ?? parseSession(await this.#store.load(), this.issuer, this.clientId)?.refreshToken;
      // Built before the session goes: the id_token is the hint that lets the provider skip its prompt.
      const logoutUrl = await this.logoutUrl(options).catch(() => undefined);
      this.#session = undefined;
      this.#lastTokenResponse = undefined;
      this.#background?.stop();
      let revoked = false;
      if (refreshToken) {
        try {
          await this.#revoke(await this.#discover(), refreshToken);
          revoked = true;
        } catch {
          // Offline or the server refused: signing out locally must still work.
        }
      }
      await this.#store.clear();
      this.#setStatus('signed-out');
      return { logoutUrl, revoked };
    });
  }

  /**
   * The browser logout URL for this app. With an `end_session_endpoint` in discovery: OpenID
   * RP-Initiated Logout 1.0 (`id_token_hint` of the session, `client_id`, `post_logout_redirect_uri`).
   * Without one, an Auth0-style issuer (its token endpoint at `/oauth/token`: a tenant without
   * RP-initiated logout publishes none) gets `/v2/logout` with `client_id` and `returnTo`; any other
   * provider (Google publishes none either) has no browser logout: undefined, not a URL that 404s.
   * `federated` exists only at /v2/logout and selects it on an Auth0-style issuer.
   */
  async logoutUrl(options: LogoutOptions = {}): Promise<string | undefined> {
    const { metadata } = await this.#discover();
    const auth0Style = metadata.token_endpoint === `${this.issuer}oauth/token`;
    if (metadata.end_session_endpoint && !(options.federated && auth0Style)) {
      const url = new URL(metadata.end_session_endpoint);
      const idToken = this.#session?.idToken;
      if (idToken) url.searchParams.set('id_token_hint', idToken);
      url.searchParams.set('client_id', this.clientId);
      if (options.returnTo) url.searchParams.set('post_logout_redirect_uri', options.returnTo);
      return url.href;
    }
    if (!auth0Style) return undefined;
    const url = new URL(`${this.issuer}v2/logout`);
    url.searchParams.set('client_id', this.clientId);
    if (options.returnTo) url.searchParams.set('returnTo', options.returnTo);
    // Auth0 reads `federated` by its presence, without a value.
    return options.federated ? `${url.href}&federated` : url.href;
  }

  async #completeAuthorization(
    callbackUrl: string,
    request: PendingAuthorization,
    discovery: Discovery,
    audience: string | undefined,
    signal: AbortSignal,
  ): Promise<UserProfile> {
    const code = parseAuthorizationResponse(callbackUrl, {
      state: request.state,
      issuer: discovery.metadata.issuer,
      issRequired: discovery.metadata.authorization_response_iss_parameter_supported === true,
    });
    const tokens = await tokenRequest(
      this.#fetch,
      discovery.metadata.token_endpoint,
      {
        grant_type: 'authorization_code',
        client_id: this.clientId,
        code,
        code_verifier: request.codeVerifier,
        redirect_uri: request.redirectUri,
      },
      signal,
    );
    return this.#establish(
      tokens,
      discovery,
      { nonce: request.nonce, ...(request.maxAge !== undefined ? { maxAge: request.maxAge } : {}) },
      audience,
      signal,
    );
  }

  /** A new session from a login's token response: the id_token is checked before anything is kept. */
  async #establish(
    tokens: TokenResponse,
    discovery: Discovery,
    expected: Partial<IdTokenExpectations>,
    audience: string | undefined,
    signal: AbortSignal,
  ): Promise<UserProfile> {
    if (!tokens.id_token) throw new IdTokenInvalid('the token response has no id_token');
    const user = await discovery.verify(tokens.id_token, this.#expectations(expected));
    // Cancelled while the code was being redeemed: the caller was told it failed, so keep nothing.
    if (signal.aborted) throw signal.reason;
    try {
      if (tokens.refresh_token) await this.#persist(tokens.refresh_token, audience);
      else await this.#store.clear();
    } catch (error) {
      // Storage refused (no keychain): fail the login rather than hold a session that dies with the
      // process, and do not leave a live refresh token behind at the server.
      if (tokens.refresh_token) await this.#revoke(discovery, tokens.refresh_token).catch(() => undefined);
      throw error;
    }
    this.#session = {
      user,
      idToken: tokens.id_token,
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
      accessTokens: new Map([[audience ?? '', this.#accessTokenFrom(tokens)]]),
      ...(audience !== undefined ? { audience } : {}),
    };
    this.#lastTokenResponse = tokens;
    this.#scheduleBackgroundRefresh(this.#session);
    this.#setStatus('signed-in');
    return user;
  }

  async #refreshInto(session: Session, wanted: { key: string; audience: string; scope?: string }): Promise<string> {
    if (!session.refreshToken) throw new LoginRequired('The access token expired and there is no refresh token (ask for offline_access).');
    const { key, scope } = wanted;
    const audience = wanted.audience === '' ? undefined : wanted.audience;
    const otherAudience = wanted.audience !== (session.audience ?? '');
    let result: RefreshedTokens;
    try {
      const discovery = await this.#discover().catch((cause: unknown) => {
        throw new TokenRefreshFailed(`The token refresh failed: ${(cause as Error).message}`, undefined, false, { cause });
      });
      const context = this.#refreshContext(
        discovery,
        { sub: session.user.sub },
        async (rotated) => {
          session.refreshToken = rotated;
          await this.#persist(rotated, session.audience);
        },
        () => this.#session === session,
      );
      // Only another API's token needs the audience sent (Auth0 multi-resource refresh tokens).
      result = await redeemRefreshToken(context, session.refreshToken, {
        ...(otherAudience ? { audience: wanted.audience } : {}),
        ...(scope !== undefined ? { scope } : {}),
      });
    } catch (error) {
      if (this.#session === session) {
        if (error instanceof TokenRefreshFailed && error.loginRequired) {
          this.#session = undefined;
          this.#background?.stop();
          this.#setStatus('signed-out');
        } else if (isTransientFailure(error) && this.#status === 'signed-in') {
          // A network outage is not a sign-out: keep the session and the stored token, say so.
          // (Not while a new login is in progress: its 'signing-in' is what the user should see.)
          this.#setStatus('offline');
        }
      }
      throw error;
    }
    const { tokens, user } = result;
    if (this.#session !== session) throw new LoginRequired('The session ended during the refresh.');
    // Without an id_token in the response (OIDC Core §12.2) the session's user and id_token stand.
    if (user) session.user = user;
    session.idToken = tokens.id_token ?? session.idToken;
    this.#lastTokenResponse = tokens;
    if (otherAudience && !grantsAudience(tokens.access_token, wanted.audience)) throw new AudienceNotGranted(wanted.audience);
    const accessToken = this.#accessTokenFrom(tokens);
    session.accessTokens.set(key, accessToken);
    if (key === (session.audience ?? '')) this.#scheduleBackgroundRefresh(session);
    if (this.#status === 'offline') this.#setStatus('signed-in');
    this.#events.emit('refreshed', { audience });
    return accessToken.token;
  }

  #scheduleBackgroundRefresh(session: Session): void {
    const token = session.accessTokens.get(session.audience ?? '');
    if (this.#background && !this.#disposed && token && session.refreshToken) this.#background.schedule(token.issuedAt, token.expiresAt);
  }

  /** One background refresh of the default token; what comes of it decides the next wake. */
  async #refreshInBackground(): Promise<RefreshOutcome> {
    if (!this.#session) return 'stop';
    try {
      await this.getAccessToken({ forceRefresh: true });
      return 'refreshed';
    } catch (error) {
      if (!this.#session || (error instanceof TokenRefreshFailed && error.loginRequired)) return 'stop';
      return 'retry';
    }
  }

  #refreshContext(
    discovery: Discovery,
    expected: Partial<IdTokenExpectations>,
    keepRotated: (refreshToken: string) => Promise<void>,
    isCurrent: () => boolean = () => true,
  ): RefreshGrantContext {
    return {
      fetch: this.#fetch,
      tokenEndpoint: discovery.metadata.token_endpoint,
      clientId: this.clientId,
      keepRotated: async (refreshToken) => {
        // A session that ended meanwhile (logout, a new login) must not get a token written back.
        if (isCurrent()) await keepRotated(refreshToken);
      },
      forget: async () => {
        if (isCurrent()) await this.#store.clear();
      },
      verifyIdToken: (idToken) => discovery.verify(idToken, this.#expectations(expected)),
    };
  }

  #revoke({ metadata }: Discovery, refreshToken: string): Promise<void> {
    return revokeRefreshToken(this.#fetch, metadata.revocation_endpoint ?? `${this.issuer}oauth/revoke`, this.clientId, refreshToken);
  }

  #expectations(extra: Partial<IdTokenExpectations>): IdTokenExpectations {
    return { issuer: this.issuer, clientId: this.clientId, leewaySeconds: this.#leeway, now: this.#now(), ...extra };
  }

  #accessTokenFrom(tokens: TokenResponse) {
    // Without expires_in the lifetime is unknown: use the token once, refresh the next time.
    const issuedAt = this.#now();
    const expiresAt = issuedAt + (tokens.expires_in ?? 0) * 1000;
    return { token: tokens.access_token, issuedAt, expiresAt, ...(tokens.scope !== undefined ? { scope: tokens.scope } : {}) };
  }

  #validCached(session: Session, key: string): string | undefined {
    const cached = session.accessTokens.get(key);
    return cached && cached.expiresAt - this.#leeway * 1000 > this.#now() ? cached.token : undefined;
  }

  #audienceParam(audience: string | undefined): { audience?: string } {
    const value = audience ?? this.#options.audience;
    return value !== undefined ? { audience: value } : {};
  }

  async #persist(refreshToken: string, audience: string | undefined): Promise<void> {
    await this.#store.save(
      serialiseSession({
        v: 1,
        issuer: this.issuer,
        clientId: this.clientId,
        refreshToken,
        ...(audience !== undefined ? { audience } : {}),
      }),
    );
  }

  #discover(): Promise<Discovery> {
    if (!this.#discovery) {
      const pending = discover(this.issuer, this.#fetch).then((metadata) => {
        const verify = idTokenVerifier(metadata, this.#fetch);
        // The provider's own spelling of its issuer (with or without the trailing slash) is what `iss` carries.
        return {
          metadata,
          verify: (idToken: string, expected: IdTokenExpectations) => verify(idToken, { ...expected, issuer: metadata.issuer }),
        };
      });
      // A failed discovery (offline at start-up) is retried by the next call instead of being cached.
      pending.catch(() => {
        if (this.#discovery === pending) this.#discovery = undefined;
      });
      this.#discovery = pending;
    }
    return this.#discovery;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task, task);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #setStatus(status: AuthStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#events.emit('status', status);
  }
}
