import { S256_CHALLENGE } from '../pkce.js';
import { AuthorizeError, type AuthorizeCheck } from './types.js';

/** PKCE (RFC 7636) with S256 only; required of public clients, whose codes are otherwise stealable. */
export const checkPkce: AuthorizeCheck = (params, state) => {
  const challenge = params.code_challenge;
  const method = params.code_challenge_method;
  if (method !== undefined && method !== 'S256') {
    throw new AuthorizeError('invalid_request', `Unsupported code_challenge_method: ${method} (only S256 is allowed)`);
  }
  if (challenge === undefined) {
    if (method !== undefined) throw new AuthorizeError('invalid_request', 'code_challenge_method given without code_challenge');
    // Public clients cannot protect their codes otherwise; third-party ones are not trusted to.
    const client = state.client!;
    if ((client.token_endpoint_auth_method === 'none' || !client.is_first_party) && state.request.responseType?.split(' ').includes('code')) {
      throw new AuthorizeError('invalid_request', 'Parameter code_challenge is required for public and third-party clients (PKCE with S256)');
    }
    return;
  }
  if (method === undefined) {
    // RFC 7636 would default to `plain`, which latchkey does not accept.
    throw new AuthorizeError('invalid_request', 'Parameter code_challenge_method=S256 is required with code_challenge');
  }
  if (!S256_CHALLENGE.test(challenge)) throw new AuthorizeError('invalid_request', 'Malformed code_challenge');
  state.request.codeChallenge = challenge;
};
