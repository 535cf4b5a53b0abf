import { authenticateDatabaseUser, lockHeaders } from '../../connections/database.js';
import { DomainError } from '../../domain/errors.js';
import type { ClientRecord } from '../../domain/types.js';
import { passwordChangedSince } from '../../login/sessions.js';
import { userFacingApi } from '../audience.js';
import { OAuthError } from '../errors.js';
import { grantedScopes, parseScope } from '../scope.js';
import { issueUserTokens } from '../user-tokens.js';
import { offersRefreshToken } from './refresh-policy.js';
import type { GrantContext, GrantHandler, TokenParams, TokenRequestMeta } from './types.js';

export const PASSWORD_REALM_GRANT = 'http://auth0.com/oauth/grant-type/password-realm';

/**
 * Resource owner password grant (RFC 6749 §4.3) and Auth0's password-realm variant, for
 * first-party clients that enable them. Same brute-force limits as the login page.
 */
async function passwordGrant(
  ctx: GrantContext,
  { client }: ClientRecord,
  params: TokenParams,
  meta: TokenRequestMeta,
  realm: string | undefined,
) {
  if (!client.is_first_party) throw new OAuthError('unauthorized_client', 'The password grant is for first-party clients only.');
  const connectionName = realm ?? (await ctx.lookups.tenantSettings()).default_directory;
  if (!connectionName) {
    throw new OAuthError('invalid_request', 'Authorization server not configured with default connection.');
  }
  const connection = await ctx.lookups.connection(connectionName);
  if (connection?.strategy !== 'auth0' || !connection.enabled_clients.includes(client.client_id)) {
    throw new OAuthError('unauthorized_client', `The connection is not enabled for this client: ${connectionName}`);
  }
  const { audience, api } = await userFacingApi(ctx, params.audience);

  let user;
  try {
    const onAccountLocked = ctx.accountLocked?.(client.client_id);
    user = await authenticateDatabaseUser(ctx.storage, connection, params.username!, params.password!, meta.ip, ctx.now(), {
      onAccountLocked,
      client,
    });
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const lock = err.details.lock;
    // A full verification queue is the server's load, not this account's lock: Auth0's rate-limit answer.
    if (err.code === 'too_many_requests') throw new OAuthError('too_many_requests', err.message, 429, { 'Retry-After': '5' });
    if (err.kind === 'limit') throw new OAuthError('too_many_attempts', err.message, 429, lock && lockHeaders(lock, ctx.now()));
    throw new OAuthError('invalid_grant', err.message);
  }
  const grant = {
    clientId: client.client_id,
    userId: user.user_id,
    scope: grantedScopes(parseScope(params.scope), api),
    ...(audience ? { audience } : {}),
    authTime: new Date(ctx.now()).toISOString(),
  };
  const { tokens, familyId, opaqueTokenHash } = await issueUserTokens(ctx, {
    client,
    user,
    grant,
    gty: 'password',
    postLogin: { protocol: 'oauth2-password', request: { ip: meta.ip } },
    ...((await offersRefreshToken(ctx, client, grant)) ? { refresh: 'new' as const } : {}),
  });
  // A password change that landed after the check revoked what existed then, not what this made.
  if (await passwordChangedSince(ctx.storage, user)) {
    if (familyId) await ctx.storage.refreshTokens.revokeFamily(familyId, new Date(ctx.now()).toISOString());
    if (opaqueTokenHash) await ctx.storage.accessTokens.delete(opaqueTokenHash);
    throw new OAuthError('invalid_grant', 'Wrong email or password.');
  }
  return tokens;
}

const PASSWORD_PARAMETERS = [
  { name: 'username', required: true },
  { name: 'password', required: true },
  { name: 'scope' },
  { name: 'audience' },
] as const;

export const passwordGrantHandler: GrantHandler = {
  grantType: 'password',
  confidentialOnly: false,
  parameters: PASSWORD_PARAMETERS,
  events: { success: 'sepft', failure: 'fepft' },
  handle: (ctx, client, params, meta) => passwordGrant(ctx, client, params, meta, undefined),
};

/** Auth0's extension grant: the password grant against the database connection named by `realm`. */
export const passwordRealmGrantHandler: GrantHandler = {
  grantType: PASSWORD_REALM_GRANT,
  confidentialOnly: false,
  parameters: [{ name: 'realm', required: true }, ...PASSWORD_PARAMETERS],
  events: { success: 'sepft', failure: 'fepft' },
  handle: (ctx, client, params, meta) => passwordGrant(ctx, client, params, meta, params.realm),
};
