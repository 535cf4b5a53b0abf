import { clientCredentialsGrant } from './client-credentials.js';
import type { GrantHandler } from './types.js';

/** Every grant the token endpoint serves, keyed by grant_type. Later grants register here. */
export const grantHandlers: ReadonlyMap<string, GrantHandler> = new Map(
  [clientCredentialsGrant].map((handler) => [handler.grantType, handler]),
);

export type { GrantContext, GrantHandler, TokenParams, TokenResponse } from './types.js';
