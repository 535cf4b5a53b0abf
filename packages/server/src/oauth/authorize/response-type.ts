import { AUTH0_DEFAULTS_FLAG } from '../../domain/auth0-defaults.js';
import { type AuthorizeCheck, AuthorizeError } from './types.js';

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

/** The client grant types /authorize needs; `implicit` is one no token request uses. */
export const AUTHORIZATION_GRANT_TYPES: readonly string[] = [...new Set(Object.values(RESPONSE_TYPES).flat())];

/** A response_type in the order the table uses ('token id_token' → 'id_token token'). */
export const normalizeResponseType = (responseType: string) => responseType.split(' ').filter(Boolean).sort().join(' ');

/** The client grant types a response type needs, or undefined for an unsupported one. */
export const grantTypesForResponseType = (responseType: string): readonly string[] | undefined =>
  RESPONSE_TYPES[normalizeResponseType(responseType)];

/** Every response type a client with these grant types may ask for (RFC 7591 §2.1 response_types). */
export const responseTypesFor = (grantTypes: readonly string[]): string[] =>
  SUPPORTED_RESPONSE_TYPES.filter((type) => RESPONSE_TYPES[type]!.every((g) => grantTypes.includes(g)));

/** response_type and response_mode together: the mode decides how even the next errors travel. */
export const checkResponseType: AuthorizeCheck = (params, state) => {
  const responseType = normalizeResponseType(params.response_type ?? '');
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
  const client = state.client!;
  const missing = grantTypes.find((grantType) => !client.grant_types.includes(grantType));
  if (missing) {
    // Self-registered apps get implicit only by registering while the tenant uses Auth0's defaults.
    const relax =
      missing === 'implicit' && client.registration_source === 'dynamic_registration'
        ? ` (applications registered while tenant setting flags.${AUTH0_DEFAULTS_FLAG} is on may use implicit)`
        : '';
    throw new AuthorizeError('unauthorized_client', `Grant type '${missing}' not allowed for the client.${relax}`);
  }
  state.request.responseType = responseType;
};
