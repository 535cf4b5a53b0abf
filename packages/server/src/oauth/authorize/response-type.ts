import { AuthorizeError, type AuthorizeCheck } from './types.js';

/** Normalised (sorted) response types and the client grant types each needs. */
const RESPONSE_TYPES: Record<string, readonly string[]> = {
  code: ['authorization_code'],
  token: ['implicit'],
  id_token: ['implicit'],
  'id_token token': ['implicit'],
  // Hybrid (OIDC Core §3.3): a code for the back channel, and at once in the fragment the rest.
  'code id_token': ['authorization_code', 'implicit'],
  'code token': ['authorization_code', 'implicit'],
  'code id_token token': ['authorization_code', 'implicit'],
};

export const SUPPORTED_RESPONSE_TYPES = Object.keys(RESPONSE_TYPES);

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
  const grantTypes = RESPONSE_TYPES[responseType];
  if (!grantTypes) throw new AuthorizeError('unsupported_response_type', `Unsupported response type: ${params.response_type}`);
  // OAuth 2.0 Multiple Response Types §5: tokens never travel in the query string.
  if (!isCode && mode === 'query') {
    state.request.responseMode = 'fragment';
    throw new AuthorizeError('invalid_request', 'response_mode=query is not allowed for implicit and hybrid response types');
  }
  const missing = grantTypes.find((grantType) => !state.client!.grant_types.includes(grantType));
  if (missing) throw new AuthorizeError('unauthorized_client', `Grant type '${missing}' not allowed for the client.`);
  state.request.responseType = responseType;
};
