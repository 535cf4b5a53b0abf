import type { SecretDigester } from '../crypto/secrets.js';
import type { ClientRecord } from '../domain/types.js';
import type { Lookups } from '../storage/cache.js';
import { OAuthError } from './errors.js';

export interface ClientCredentials {
  clientId: string | undefined;
  clientSecret: string | undefined;
  method: 'client_secret_basic' | 'client_secret_post' | 'none';
}

/** RFC 6749 §2.3.1: the Basic credentials are form-urlencoded before base64. */
export function parseBasicAuthorization(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    // A NUL (`%00`) can name no client, and PostgreSQL refuses it in a lookup: malformed, not a 500.
    if (`${id}${secret}`.includes('\u0000')) return undefined;
    return { id, secret };
  } catch {
    return undefined;
  }
}

/** The body parameters of client authentication (RFC 6749 §2.3.1), which every client-facing endpoint reads. */
export const CLIENT_AUTHENTICATION_PARAMETERS = ['client_id', 'client_secret'] as const;

export function clientCredentialsFrom(
  body: { client_id?: unknown; client_secret?: unknown },
  authorization: string | undefined,
): ClientCredentials {
  const basic = parseBasicAuthorization(authorization);
  const bodyId = typeof body.client_id === 'string' ? body.client_id : undefined;
  const bodySecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
  if (authorization && /^basic /i.test(authorization) && !basic) {
    throw new OAuthError('invalid_client', 'Malformed HTTP Basic client credentials', 401, basicChallenge);
  }
  if (basic) {
    // RFC 6749 §2.3: a client must not use more than one authentication method per request.
    if (bodySecret !== undefined || (bodyId !== undefined && bodyId !== basic.id)) {
      throw new OAuthError('invalid_request', 'Client credentials were sent both in the body and in the Authorization header');
    }
    return { clientId: basic.id, clientSecret: basic.secret, method: 'client_secret_basic' };
  }
  if (bodySecret !== undefined) return { clientId: bodyId, clientSecret: bodySecret, method: 'client_secret_post' };
  return { clientId: bodyId, clientSecret: undefined, method: 'none' };
}

const basicChallenge = { 'WWW-Authenticate': 'Basic realm="latchkey"' };

/**
 * Authenticates the client at the token endpoint. Like Auth0, a confidential client may present its
 * secret in the body or by Basic whichever method it registered; a public client (`none`) presents
 * none and is identified by client_id only.
 */
export async function authenticateClient(
  credentials: ClientCredentials,
  lookups: Lookups,
  digester: SecretDigester,
): Promise<ClientRecord> {
  if (!credentials.clientId) throw new OAuthError('invalid_request', 'Missing required parameter: client_id');
  const challenge = credentials.method === 'client_secret_basic' ? basicChallenge : {};
  const record = await lookups.client(credentials.clientId);
  if (!record) throw new OAuthError('invalid_client', 'Unknown client or invalid client credentials', 401, challenge);

  if (record.client.token_endpoint_auth_method === 'none') {
    if (credentials.clientSecret !== undefined) {
      throw new OAuthError('invalid_client', 'This client is public and must not send a client secret', 401, challenge);
    }
    return record;
  }
  if (credentials.clientSecret === undefined) {
    throw new OAuthError('invalid_client', 'Client authentication is required for this client', 401, challenge);
  }
  if (!digester.verify(credentials.clientSecret, record.secretDigest)) {
    throw new OAuthError('invalid_client', 'Unknown client or invalid client credentials', 401, challenge);
  }
  return record;
}
