/** Error codes of RFC 6749 §5.2 and the extensions latchkey speaks, with Auth0's status codes. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'too_many_requests'
  | 'too_many_attempts'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token';

const DEFAULT_STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 403,
  unauthorized_client: 403,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  server_error: 500,
  too_many_requests: 429,
  too_many_attempts: 429,
  // RFC 8628 §3.5 polling answers, with Auth0's status codes.
  authorization_pending: 403,
  slow_down: 429,
  expired_token: 403,
};

/**
 * Thrown by protocol logic; the HTTP layer turns it into `{error, error_description}` (or a redirect,
 * or the hosted error page) in exactly one place per endpoint.
 */
export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly status: number;

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    status?: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.status = status ?? DEFAULT_STATUS[error];
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
