import type { AuthorizationRequest } from '../../domain/types.js';
import type { GrantContext } from '../grants/types.js';
import { checkClient } from './client.js';
import { checkConnection } from './connection.js';
import { checkNonce, checkState } from './nonce-and-state.js';
import { checkPkce } from './pkce.js';
import { checkPrompt } from './prompt.js';
import { checkRedirectUri } from './redirect-uri.js';
import { checkResponseType } from './response-type.js';
import { checkScopeAndAudience } from './scope-and-audience.js';
import type { AuthorizeCheck, AuthorizeParams, AuthorizeState } from './types.js';

/**
 * The authorization endpoint as a pipeline of named checks (after node-oidc-provider). Order
 * matters: client and redirect URI first (their failures are shown, not redirected), then the
 * response type and mode (they decide how later errors travel), then the rest.
 */
const CHECKS: readonly AuthorizeCheck[] = [
  checkClient,
  checkRedirectUri,
  checkState,
  checkResponseType,
  checkNonce,
  checkPkce,
  checkPrompt,
  checkScopeAndAudience,
  checkConnection,
];

/**
 * Runs every check. On failure the error is thrown with `state` holding what was established, so
 * the caller knows whether and how the error can go back to the client.
 */
export async function validateAuthorizationRequest(
  params: AuthorizeParams,
  ctx: GrantContext,
  state: AuthorizeState = { request: {} },
): Promise<Required<Pick<AuthorizeState, 'client'>> & AuthorizeState & { request: AuthorizationRequest }> {
  for (const check of CHECKS) await check(params, state, ctx);
  return state as never;
}

export { AuthorizeError, type AuthorizeParams, type AuthorizeState } from './types.js';
