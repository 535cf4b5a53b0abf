import type { RedirectStrategy } from './redirect.js';
import type { TokenStore } from './storage.js';

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface DesktopAuthOptions {
  /** The issuer URL (`https://tenant.auth0.com/`), or give `domain` instead. */
  issuer?: string;
  /** Auth0-style domain (`tenant.auth0.com`); the issuer becomes `https://DOMAIN/`. */
  domain?: string;
  clientId: string;
  /** The API the access token is for. Without one, Auth0 issues an opaque token good for /userinfo only. */
  audience?: string;
  /** Default `openid profile email offline_access`; `openid` is always added. */
  scope?: string;
  /** How the browser hands the result back: a loopback listener (node adapter) or a custom scheme. */
  redirect?: RedirectStrategy;
  /** Opens the sign-in page in the system browser (never an embedded web view: RFC 8252 §8.12). */
  openUrl?: (url: string) => unknown;
  /** Where the refresh token lives. Default: in memory only. */
  store?: TokenStore;
  /** Default 300 s: how long login() waits for the browser. */
  loginTimeoutMs?: number;
  /** Clock skew tolerated on exp/iat/auth_time, in seconds. Default 60. */
  leewaySeconds?: number;
  fetch?: FetchLike;
  /** Milliseconds since the epoch; tests fix it. */
  now?: () => number;
  /** Waits between device-flow polls; tests shorten it. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Long-running apps: refresh the access token ahead of its expiry in the background, retry with
   * backoff through a network outage (status `offline`, never a sign-out), and catch up after the
   * machine slept. Off by default (a CLI that exits needs none); `true` for the defaults.
   */
  backgroundRefresh?: boolean | BackgroundRefreshOptions;
  /** Timers for the background refresh; tests drive them by hand. Default: the platform's, unref'd in Node. */
  timers?: Timers;
  /** Default Math.random: the jitter of background refreshes and retries. */
  random?: () => number;
}

export interface BackgroundRefreshOptions {
  /** Refresh this long before the access token expires. Default 300 s (at least `leewaySeconds`). */
  aheadSeconds?: number;
  /** Up to this much earlier again, at random, so many app instances do not refresh in step. Default 60 s. */
  jitterSeconds?: number;
  /**
   * The timer wakes at least this often and compares the wall clock with the due time: after a
   * sleep (timers do not run, the wall clock jumps) the refresh happens on the first wake. Default 30 s.
   */
  checkEverySeconds?: number;
  /** Retries after a network failure back off from 5 s, doubling, up to this. Default 300 s. */
  maxRetrySeconds?: number;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const DEFAULT_SCOPE = 'openid profile email offline_access';

/**
 * The issuer as Auth0 writes it: `https://HOST/` with a trailing slash, compared as an exact string
 * with discovery and the id_token's `iss`. Plain http is refused except on loopback (local test servers).
 */
export function normaliseIssuer(options: Pick<DesktopAuthOptions, 'issuer' | 'domain'>): string {
  const raw = options.issuer ?? (options.domain ? `https://${options.domain.replace(/^https?:\/\//, '')}` : undefined);
  if (!raw) throw new TypeError('Give the issuer (https://tenant.example.com/) or the domain (tenant.example.com).');
  const url = new URL(raw);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new TypeError(`The issuer must use https: ${raw}`);
  }
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === '[::1]' || hostname === 'localhost';
}

/** `openid` is what makes the server send an id_token, which the SDK needs for the profile. */
export function withOpenid(scope: string): string {
  const scopes = scope.split(' ').filter(Boolean);
  return (scopes.includes('openid') ? scopes : ['openid', ...scopes]).join(' ');
}
