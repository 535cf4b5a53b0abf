import { redirectUriMatches } from '../redirect-uri.js';
import { type AuthorizeCheck, AuthorizeError } from './types.js';

export const checkRedirectUri: AuthorizeCheck = (params, state) => {
  const redirectUri = params.redirect_uri;
  if (!redirectUri) throw new AuthorizeError('invalid_request', 'Missing required parameter: redirect_uri', false);
  if (!redirectUriMatches(state.client!.callbacks, redirectUri)) {
    throw new AuthorizeError(
      'invalid_request',
      'The provided redirect_uri is not in the list of allowed callback URLs. ' +
        `Add ${redirectUri} to the application's Allowed Callback URLs.`,
      false,
      'Callback URL mismatch',
    );
  }
  state.request.redirectUri = redirectUri;
};
