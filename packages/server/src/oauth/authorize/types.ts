import type { AuthorizationRequest, Client, ResourceServer } from '../../domain/types.js';
import { OAuthError, type OAuthErrorCode } from '../errors.js';
import type { GrantContext } from '../grants/types.js';

export type AuthorizeParams = Record<string, string | undefined>;

/** What the checks have established so far; each check reads the params and fills in its part. */
export interface AuthorizeState {
  client?: Client;
  api?: ResourceServer;
  request: Partial<AuthorizationRequest>;
}

export type AuthorizeCheck = (params: AuthorizeParams, state: AuthorizeState, ctx: GrantContext) => void | Promise<void>;

/**
 * An /authorize failure. Until the client and its redirect URI are trusted, the user sees an error
 * page (never a redirect: that would be an open redirector); afterwards the error goes back to the
 * client at its redirect URI.
 */
export class AuthorizeError extends OAuthError {
  constructor(
    error: OAuthErrorCode | 'login_required' | 'consent_required' | 'interaction_required' | 'unsupported_response_type',
    description: string,
    readonly redirectable = true,
    readonly title?: string,
  ) {
    super(error as OAuthErrorCode, description, 400);
  }
}
