import type { ActionsRuntime } from '../../actions/flows.js';
import type { AccountLockedHook } from '../../connections/database.js';
import type { KeyRing } from '../../crypto/keys.js';
import type { PictureSettings } from '../../domain/default-picture.js';
import type { ClientRecord } from '../../domain/types.js';
import type { LogEventType } from '../../events/types.js';
import type { Lookups } from '../../storage/cache.js';
import type { Storage } from '../../storage/types.js';

/** What every grant needs from the server, passed in so tests can fix the clock. */
export interface GrantContext {
  issuer: string;
  storage: Storage;
  lookups: Lookups;
  keys: KeyRing;
  /** The default `picture` of users without one, in id_tokens. */
  pictures: PictureSettings;
  now: () => number;
  /** The Actions runtime (post-login, credentials-exchange); none bound when absent. */
  actions?: ActionsRuntime;
  /** What a password sign-in does when the brute-force limits lock an account (the blocked-account mail). */
  accountLocked?: (clientId: string) => AccountLockedHook;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  id_token?: string;
  refresh_token?: string;
}

/** Request parameters after client authentication; values are strings, unknown ones ignored. */
export type TokenParams = Record<string, string | undefined>;

/** Facts about the HTTP request that a grant may need, never taken from the parameters. */
export interface TokenRequestMeta {
  ip: string;
}

/**
 * A token request parameter a grant reads, besides grant_type and client authentication. The token
 * endpoint reads exactly the parameters its grants declare (any other is ignored, as in Auth0).
 */
export interface GrantParameter {
  readonly name: string;
  /** Absent or empty: `invalid_request`, before the handler runs. */
  readonly required?: boolean;
  /** Longer values are refused with `invalid_request`, before the handler runs. */
  readonly maxLength?: number;
}

/**
 * One handler per grant type, as in fosite: validate the request for this grant, then issue. The
 * token endpoint has already authenticated the client, checked it may use the grant type and that
 * the declared parameters are there.
 */
export interface GrantHandler {
  readonly grantType: string;
  /** Auth0 refuses some grants to public clients (client_credentials) outright. */
  readonly confidentialOnly: boolean;
  readonly parameters: readonly GrantParameter[];
  /** Whether clients that registered themselves (RFC 7591, third-party) may be given this grant type. */
  readonly dynamicRegistration?: boolean;
  /** Auth0's log event types for an exchange through this grant (`seacft`/`feacft`...); none recorded when absent. */
  readonly events?: { readonly success: LogEventType; readonly failure: LogEventType };
  handle(ctx: GrantContext, client: ClientRecord, params: TokenParams, request: TokenRequestMeta): Promise<TokenResponse>;
}
