/**
 * The one error the domain (and sign-in logic) throws. It says what went wrong, not how to answer:
 * each HTTP surface (Management API, OAuth endpoints, hosted pages, /dbconnections, RFC 7591
 * registration) maps `kind` to its status and `code` to its wire code in one place (http/errors.ts).
 */
export const ERROR_KINDS = [
  /** The input is malformed or breaks a rule; `details.field` names the field when there is one. */
  'invalid',
  'not_found',
  /** The thing already exists (a unique name, email or pair is taken). */
  'conflict',
  /** Allowed to no one through this path (a system object, a disabled feature, a blocked user). */
  'forbidden',
  /** The credentials presented are wrong. */
  'unauthorized',
  /** A password the connection's policy refuses. */
  'password_policy',
  /** A counter ran out (too many attempts, sign-ups, registered clients); `details.lock` says until when. */
  'limit',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** What a caller may need besides the message. */
export interface ErrorDetails {
  /** The request field that failed, as the caller named it (`email`, `options.tokenURL`). */
  field?: string;
  /** For `limit`: when the window ends, and the limit that was reached (for Retry-After and X-RateLimit-*). */
  lock?: { until: Date; limit: number };
}

export class DomainError extends Error {
  override name = 'DomainError';

  constructor(
    readonly kind: ErrorKind,
    /** Stable, for callers to branch on: never parse the message. */
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }
}

/** A field that fails validation; the Management API shows it as a payload validation error. */
export const invalidField = (field: string, message: string, code = 'invalid_body') => new DomainError('invalid', code, message, { field });
export const invalid = (message: string, code = 'invalid_body') => new DomainError('invalid', code, message);
export const notFound = (message: string, code: string) => new DomainError('not_found', code, message);
export const conflict = (message: string, code = 'conflict') => new DomainError('conflict', code, message);
export const forbidden = (message: string, code = 'operation_not_supported') => new DomainError('forbidden', code, message);
