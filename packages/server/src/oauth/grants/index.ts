import { AUTHORIZATION_GRANT_TYPES } from '../authorize/response-type.js';
import { CLIENT_AUTHENTICATION_PARAMETERS } from '../client-auth.js';
import { OAuthError } from '../errors.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import { passwordGrantHandler, passwordRealmGrantHandler } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';
import type { GrantHandler, TokenParams } from './types.js';

/**
 * The grants the token endpoint serves, and everything that follows from them: the parameters the
 * endpoint reads, the grant types a client may be given (Management API, RFC 7591) and discovery's
 * `grant_types_supported`. Nothing else lists grant types or token parameters by hand, so a new
 * grant is its handler plus one line in `grantRegistry` below.
 */
export class GrantRegistry {
  readonly #handlers: ReadonlyMap<string, GrantHandler>;
  /** Every parameter /oauth/token reads: grant_type, client authentication, then what grants declare. */
  readonly tokenParameters: ReadonlySet<string>;

  constructor(handlers: readonly GrantHandler[]) {
    const byType = new Map<string, GrantHandler>();
    for (const handler of handlers) {
      if (byType.has(handler.grantType)) throw new Error(`Grant type registered twice: ${handler.grantType}`);
      byType.set(handler.grantType, handler);
    }
    this.#handlers = byType;
    this.tokenParameters = new Set([
      'grant_type',
      ...CLIENT_AUTHENTICATION_PARAMETERS,
      ...handlers.flatMap((h) => h.parameters.map((p) => p.name)),
    ]);
  }

  /** The same grants and one more (an extension, or a test's). */
  with(handler: GrantHandler): GrantRegistry {
    return new GrantRegistry([...this.#handlers.values(), handler]);
  }

  handler(grantType: string): GrantHandler | undefined {
    return this.#handlers.get(grantType);
  }

  /** The grant types of the token endpoint, in registration order: discovery's `grant_types_supported`. */
  get tokenGrantTypes(): string[] {
    return [...this.#handlers.keys()];
  }

  /**
   * Every grant type a client may hold: the token endpoint's and those only /authorize uses
   * (`implicit`, as Auth0 names it).
   */
  get clientGrantTypes(): string[] {
    return [...new Set([...AUTHORIZATION_GRANT_TYPES, ...this.#handlers.keys()])];
  }

  /** The token grant types a self-registered (third-party) client may ask for. */
  get registrableGrantTypes(): string[] {
    return [...this.#handlers.values()].filter((h) => h.dynamicRegistration === true).map((h) => h.grantType);
  }
}

/** Every grant the token endpoint serves. */
export const grantRegistry = new GrantRegistry([
  authorizationCodeGrant,
  refreshTokenGrant,
  clientCredentialsGrant,
  passwordGrantHandler,
  passwordRealmGrantHandler,
  deviceCodeGrant,
]);

/** The parameters a grant declares, checked in declaration order before its handler runs. */
export function checkGrantParameters(handler: GrantHandler, params: TokenParams): void {
  for (const { name, required, maxLength } of handler.parameters) {
    const value = params[name];
    if (required && !value) throw new OAuthError('invalid_request', `Missing required parameter: ${name}`);
    if (maxLength !== undefined && value !== undefined && value.length > maxLength) {
      throw new OAuthError('invalid_request', `Parameter ${name} is too long (at most ${maxLength} characters)`);
    }
  }
}

export type { GrantContext, GrantHandler, GrantParameter, TokenParams, TokenRequestMeta, TokenResponse } from './types.js';
