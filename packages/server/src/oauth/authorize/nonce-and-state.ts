import { AuthorizeError, type AuthorizeCheck } from './types.js';

const MAX_LENGTH = 2048;

/** state is echoed verbatim with every redirect, errors included, so it is taken right after the redirect URI. */
export const checkState: AuthorizeCheck = (params, state) => {
  if (params.state === undefined) return;
  if (params.state.length > MAX_LENGTH) throw new AuthorizeError('invalid_request', 'state is too long');
  state.request.state = params.state;
};

/** An id_token from the authorization endpoint needs a nonce (OIDC Core §3.2.2.1). */
export const checkNonce: AuthorizeCheck = (params, state) => {
  if (params.nonce !== undefined) {
    if (params.nonce.length > MAX_LENGTH) throw new AuthorizeError('invalid_request', 'nonce is too long');
    state.request.nonce = params.nonce;
  }
  if (state.request.responseType?.includes('id_token') && !params.nonce) {
    throw new AuthorizeError('invalid_request', 'Parameter nonce is required when response_type includes id_token');
  }
};
