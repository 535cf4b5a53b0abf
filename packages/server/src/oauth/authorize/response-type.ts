import { AuthorizeError, type AuthorizeCheck } from './types.js';

/** Normalised (sorted) response types and the client grant type each needs. */
const RESPONSE_TYPES: Record<string, string> = {
  code: 'authorization_code',
  token: 'implicit',
  id_token: 'implicit',
  'id_token token': 'implicit',
};

/** response_type and response_mode together: the mode decides how even the next errors travel. */
export const checkResponseType: AuthorizeCheck = (params, state) => {
  const responseType = (params.response_type ?? '').split(' ').filter(Boolean).sort().join(' ');
  const isCode = responseType === 'code';
  const mode = params.response_mode ?? (isCode || !responseType ? 'query' : 'fragment');
  if (!['query', 'fragment', 'form_post', 'web_message'].includes(mode)) {
    state.request.responseMode = isCode ? 'query' : 'fragment';
    throw new AuthorizeError('invalid_request', `Unsupported response_mode: ${mode}`);
  }
  state.request.responseMode = mode as 'query';
  if (!responseType) throw new AuthorizeError('invalid_request', 'Missing required parameter: response_type');
  const grantType = RESPONSE_TYPES[responseType];
  if (!grantType) throw new AuthorizeError('unsupported_response_type', `Unsupported response type: ${params.response_type}`);
  // OAuth 2.0 Multiple Response Types §5: tokens never travel in the query string.
  if (!isCode && mode === 'query') {
    state.request.responseMode = 'fragment';
    throw new AuthorizeError('invalid_request', 'response_mode=query is not allowed for implicit response types');
  }
  if (!state.client!.grant_types.includes(grantType)) {
    throw new AuthorizeError('unauthorized_client', `Grant type '${grantType}' not allowed for the client.`);
  }
  state.request.responseType = responseType;
};
