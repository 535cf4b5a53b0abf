import { bounded } from './limits.js';
import { type AuthorizeCheck, AuthorizeError } from './types.js';

/** state is echoed verbatim with every redirect, errors included, so it is taken right after the redirect URI. */
export const checkState: AuthorizeCheck = (params, state) => {
  const value = bounded(params, 'state');
  if (value !== undefined) state.request.state = value;
};

/** An id_token from the authorization endpoint needs a nonce (OIDC Core §3.2.2.1). */
export const checkNonce: AuthorizeCheck = (params, state) => {
  const nonce = bounded(params, 'nonce');
  if (nonce !== undefined) state.request.nonce = nonce;
  if (state.request.responseType?.includes('id_token') && !params.nonce) {
    throw new AuthorizeError('invalid_request', 'Parameter nonce is required when response_type includes id_token');
  }
};
