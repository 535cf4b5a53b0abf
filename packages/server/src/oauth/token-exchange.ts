import { decodeJwt } from 'jose';
import type { SecretDigester } from '../crypto/secrets.js';
import { failureRecorded, recordEvent } from '../events/emit.js';
import type { LogEventInput } from '../events/types.js';
import type { Lookups } from '../storage/cache.js';
import { authenticateClient, clientCredentialsFrom } from './client-auth.js';
import { OAuthError } from './errors.js';
import { checkGrantParameters, type GrantContext, type GrantRegistry, type TokenParams, type TokenResponse } from './grants/index.js';

/** Polling answers of the device flow: the normal course of it, not failures worth a log event each 5 s. */
const NOT_FAILURES = new Set(['authorization_pending', 'slow_down']);

/** The user a response was issued for, from its id_token or JWT access token (both ours, just signed). */
function subjectOf(tokens: TokenResponse): string | undefined {
  for (const token of [tokens.id_token, tokens.access_token]) {
    if (token?.split('.').length !== 3) continue;
    try {
      const sub = decodeJwt(token).sub;
      if (typeof sub === 'string' && !sub.endsWith('@clients')) return sub;
    } catch {
      // not a JWT: an opaque /userinfo token
    }
  }
  return undefined;
}

/**
 * `POST /oauth/token` without HTTP: authenticate the client, check it may use the grant, run the
 * grant's handler, and record the exchange as Auth0 does (`seacft`/`feacft`, `sertft`/`fertft`...).
 */
export async function exchangeToken(
  ctx: GrantContext & { grants: GrantRegistry; lookups: Lookups; digester: SecretDigester },
  params: TokenParams,
  authorization: string | undefined,
  meta: { ip: string },
): Promise<TokenResponse> {
  const grantType = params.grant_type;
  if (!grantType) throw new OAuthError('invalid_request', 'Missing required parameter: grant_type');
  const handler = ctx.grants.handler(grantType);
  if (!handler) throw new OAuthError('unsupported_grant_type', `Unsupported grant type: ${grantType}`);
  const event: Omit<LogEventInput, 'type'> = {
    ...(params.client_id ? { client_id: params.client_id.slice(0, 256) } : {}),
    ...(params.audience ? { audience: params.audience.slice(0, 600) } : {}),
  };
  try {
    const credentials = clientCredentialsFrom(params, authorization);
    const record = await authenticateClient(credentials, ctx.lookups, ctx.digester);
    event.client_id = record.client.client_id;
    event.client_name = record.client.name;
    if (!record.client.grant_types.includes(grantType)) {
      throw new OAuthError('unauthorized_client', `Grant type '${grantType}' not allowed for the client.`);
    }
    if (handler.confidentialOnly && record.client.token_endpoint_auth_method === 'none') {
      throw new OAuthError('unauthorized_client', `Grant type '${grantType}' requires a confidential client.`);
    }
    checkGrantParameters(handler, params);
    const tokens = await handler.handle(ctx, record, params, meta);
    if (handler.events) {
      const userId = subjectOf(tokens);
      recordEvent({
        ...event,
        type: handler.events.success,
        ...(userId ? { user_id: userId } : {}),
        ...(tokens.scope ? { scope: tokens.scope } : {}),
      });
    }
    return tokens;
  } catch (err) {
    if (handler.events && err instanceof OAuthError && !NOT_FAILURES.has(err.error) && !failureRecorded()) {
      recordEvent({ ...event, type: handler.events.failure, description: err.description, details: { error: err.error } });
    }
    throw err;
  }
}
