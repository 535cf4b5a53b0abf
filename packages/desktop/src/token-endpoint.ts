import type { FetchLike } from './config.js';
import { AccessDenied, OAuthRequestFailed, RequestFailed } from './errors.js';

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  scope?: string;
  id_token?: string;
  refresh_token?: string;
}

/** POSTs a form (RFC 6749 §3.2) and returns the JSON body; OAuth errors become OAuthRequestFailed. */
export async function postForm(
  fetchImpl: FetchLike,
  endpoint: string,
  params: Record<string, string>,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetchImpl(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(params).toString(),
      ...(signal ? { signal } : {}),
    });
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new RequestFailed(`Could not reach ${endpoint}`, { cause });
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new RequestFailed(`${endpoint} answered ${response.status} with a body that is not JSON`);
  }
  if (body === null || typeof body !== 'object') throw new RequestFailed(`${endpoint} answered ${response.status} with unexpected JSON`);
  const record = body as Record<string, unknown>;
  if (!response.ok) {
    if (typeof record.error !== 'string') throw new RequestFailed(`${endpoint} answered ${response.status}`);
    const description = typeof record.error_description === 'string' ? record.error_description : undefined;
    if (record.error === 'access_denied') throw new AccessDenied(description);
    throw new OAuthRequestFailed(record.error, description, response.status);
  }
  return record;
}

export async function tokenRequest(
  fetchImpl: FetchLike,
  endpoint: string,
  params: Record<string, string>,
  signal?: AbortSignal,
): Promise<TokenResponse> {
  const body = await postForm(fetchImpl, endpoint, params, signal);
  if (typeof body.access_token !== 'string' || typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer') {
    throw new RequestFailed('The token response has no Bearer access_token');
  }
  for (const field of ['id_token', 'refresh_token', 'scope'] as const) {
    if (body[field] !== undefined && typeof body[field] !== 'string')
      throw new RequestFailed(`The token response's ${field} is not a string`);
  }
  if (body.expires_in !== undefined && typeof body.expires_in !== 'number')
    throw new RequestFailed("The token response's expires_in is not a number");
  return body as unknown as TokenResponse;
}

/** RFC 7009. Auth0 revokes the refresh token's whole family (every rotation of it) too. */
export async function revokeRefreshToken(
  fetchImpl: FetchLike,
  endpoint: string,
  clientId: string,
  token: string,
  signal?: AbortSignal,
): Promise<void> {
  await postForm(fetchImpl, endpoint, { client_id: clientId, token, token_type_hint: 'refresh_token' }, signal);
}
