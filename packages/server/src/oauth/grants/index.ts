import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import { passwordGrantHandler, passwordRealmGrantHandler } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';
import type { GrantHandler } from './types.js';

/** Every grant the token endpoint serves, keyed by grant_type. */
export const grantHandlers: ReadonlyMap<string, GrantHandler> = new Map(
  [
    authorizationCodeGrant,
    refreshTokenGrant,
    clientCredentialsGrant,
    passwordGrantHandler,
    passwordRealmGrantHandler,
    deviceCodeGrant,
  ].map(
    (handler) => [handler.grantType, handler],
  ),
);

export type { GrantContext, GrantHandler, TokenParams, TokenRequestMeta, TokenResponse } from './types.js';
