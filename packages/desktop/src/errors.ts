/**
 * Every code a DesktopAuthError can carry, in one list: the type is derived from it, and a test
 * checks that each one is documented in the README, so apps can map every code to their own words.
 */
export const DESKTOP_AUTH_ERROR_CODES = [
  'login_cancelled',
  'login_timeout',
  'state_mismatch',
  'duplicate_callback',
  'access_denied',
  'oauth_error',
  'id_token_invalid',
  'token_refresh_failed',
  'login_required',
  'audience_not_granted',
  'device_code_expired',
  'keychain_unavailable',
  'storage_failed',
  'discovery_failed',
  'browser_open_failed',
  'redirect_unavailable',
  'request_failed',
  'invalid_argument',
] as const;

export type DesktopAuthErrorCode = (typeof DESKTOP_AUTH_ERROR_CODES)[number];

/**
 * Every failure the SDK reports is a `DesktopAuthError` with a stable `code`, so apps branch on
 * codes (`err.code === 'login_cancelled'`) or classes, never on messages.
 */
export class DesktopAuthError extends Error {
  readonly code: DesktopAuthErrorCode;
  constructor(code: DesktopAuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The user or the app gave up: the AbortSignal fired, or a newer login() replaced this one. */
export class LoginCancelled extends DesktopAuthError {
  constructor(message = 'The sign-in was cancelled.', options?: { cause?: unknown }) {
    super('login_cancelled', message, options);
  }
}

/** No callback arrived in time (the user closed the browser tab, or never finished). */
export class LoginTimeout extends DesktopAuthError {
  constructor(readonly timeoutMs: number) {
    super('login_timeout', `No sign-in response within ${Math.round(timeoutMs / 1000)} s.`);
  }
}

/**
 * The callback's `state` is not the one this login sent: a forged or stale callback (login CSRF).
 * Nothing from it is used; the code in it is never redeemed.
 */
export class StateMismatch extends DesktopAuthError {
  constructor() {
    super('state_mismatch', 'The sign-in response does not belong to this sign-in (state mismatch); it was ignored.');
  }
}

/** The server sent an OAuth error: from /authorize (in the callback) or from a token request. */
export class OAuthRequestFailed extends DesktopAuthError {
  constructor(
    readonly error: string,
    readonly errorDescription: string | undefined,
    readonly status?: number,
    code: 'oauth_error' | 'access_denied' = 'oauth_error',
  ) {
    super(code, `${error}${errorDescription ? `: ${errorDescription}` : ''}`);
  }
}

/** The user declined (consent refused, device code denied): `access_denied` from the server. */
export class AccessDenied extends OAuthRequestFailed {
  constructor(errorDescription?: string) {
    super('access_denied', errorDescription, undefined, 'access_denied');
  }
}

/** The refresh token was refused or the refresh request failed. `loginRequired` means the session is gone. */
export class TokenRefreshFailed extends DesktopAuthError {
  constructor(
    message: string,
    readonly error: string | undefined,
    readonly loginRequired: boolean,
    options?: { cause?: unknown },
  ) {
    super('token_refresh_failed', message, options);
  }
}

/** No session to take a token from: call login() (or restore() at start-up). */
export class LoginRequired extends DesktopAuthError {
  constructor(message = 'Not signed in.') {
    super('login_required', message);
  }
}

/** The id_token failed validation (signature, iss, aud, azp, exp/iat, nonce, max_age). Its tokens are not used. */
export class IdTokenInvalid extends DesktopAuthError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('id_token_invalid', `The id_token is not valid: ${reason}`, options);
  }
}

/** The device code expired before the user approved it (RFC 8628 `expired_token`). */
export class DeviceCodeExpired extends DesktopAuthError {
  constructor() {
    super('device_code_expired', 'The device code expired before the sign-in was approved. Start again.');
  }
}

/**
 * The refresh grant answered with a token for another API. Auth0 issues tokens for a second
 * audience from one refresh token only with Multi-Resource Refresh Token enabled.
 */
export class AudienceNotGranted extends DesktopAuthError {
  constructor(readonly audience: string) {
    super(
      'audience_not_granted',
      `The server did not issue a token for ${audience} from this refresh token. ` +
        'Log in with this audience, or enable multi-resource refresh tokens for it.',
    );
  }
}

/** The OS keychain cannot be used here. The message says what to install or configure. */
export class KeychainUnavailable extends DesktopAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('keychain_unavailable', message, options);
  }
}

/** Stored tokens could not be read or written (corrupt file, wrong passphrase, I/O error). */
export class StorageFailed extends DesktopAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('storage_failed', message, options);
  }
}

/** The issuer's discovery document could not be fetched or does not describe this issuer. */
export class DiscoveryFailed extends DesktopAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('discovery_failed', message, options);
  }
}

/** The system browser could not be started (no browser, no xdg-open). Show the URL to the user instead. */
export class BrowserOpenFailed extends DesktopAuthError {
  constructor(
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super('browser_open_failed', `Could not open the system browser. Open this URL to sign in: ${url}`, options);
  }
}

/** A token request failed below OAuth: network down, server unreachable, a response that is not OAuth JSON. */
export class RequestFailed extends DesktopAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('request_failed', message, options);
  }
}

/**
 * The redirect could not be prepared before the browser opened: the loopback port is taken or
 * cannot be bound (a firewall, a fixed `port` another app holds).
 */
export class RedirectUnavailable extends DesktopAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('redirect_unavailable', message, options);
  }
}

/** A value that crossed a trust boundary (the Electron bridge) is not what the API takes. */
export class InvalidArgument extends DesktopAuthError {
  constructor(message: string) {
    super('invalid_argument', message);
  }
}
