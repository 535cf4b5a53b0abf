import { randomBytes } from 'node:crypto';
import { type ActionRequestInfo, runPostLogin } from '../../actions/flows.js';
import type { AuthorizationRequest, Client, Session, User } from '../../domain/types.js';
import type { GrantContext } from '../grants/types.js';
import { digestToken, issueUserTokens, signIdToken } from '../user-tokens.js';

/** RFC 6749 §4.1.2 recommends at most ten minutes; Auth0 uses sixty seconds, and so does latchkey. */
export const AUTHORIZATION_CODE_LIFETIME_MS = 60_000;

/**
 * The parameters of a successful authorization response: a code bound to everything the token
 * endpoint must check later, and/or (implicit, hybrid) the tokens themselves. `iss` per RFC 9207.
 */
export async function authorizationResponse(
  ctx: GrantContext,
  request: AuthorizationRequest,
  client: Client,
  user: User,
  session: Session,
  requestInfo?: ActionRequestInfo,
): Promise<Record<string, string>> {
  const grant = {
    clientId: client.client_id,
    userId: user.user_id,
    scope: request.scope,
    ...(request.audience ? { audience: request.audience } : {}),
    sid: session.sid,
    authTime: session.authTime,
  };
  const params: Record<string, string> = {};
  const types = request.responseType.split(' ');
  // post-login runs here, once per sign-in (SSO included): a denial or a failing Action throws
  // access_denied, which the caller sends back to the app; what it added travels on the code.
  const protocol =
    types.length === 1 && types[0] === 'code'
      ? 'oidc-basic-profile'
      : types.includes('code')
        ? 'oidc-hybrid-profile'
        : 'oidc-implicit-profile';
  const actions = await runPostLogin(ctx, { client, user, grant, protocol, ...(requestInfo ? { request: requestInfo } : {}) });
  if (types.includes('code')) {
    const code = randomBytes(32).toString('base64url');
    await ctx.storage.codes.insert(
      digestToken(code),
      {
        ...grant,
        redirectUri: request.redirectUri,
        ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
        ...(request.codeChallenge !== undefined ? { codeChallenge: request.codeChallenge } : {}),
        ...(actions ? { actions } : {}),
      },
      new Date(ctx.now() + AUTHORIZATION_CODE_LIFETIME_MS).toISOString(),
    );
    params.code = code;
  }
  const wantsIdToken = types.includes('id_token');
  // Front-channel id_tokens are asked for by response_type, whatever the scope.
  const idTokenGrant = { ...grant, scope: grant.scope.includes('openid') ? grant.scope : ['openid', ...grant.scope] };
  const nonce = request.nonce !== undefined ? { nonce: request.nonce } : {};
  const code = params.code ? { code: params.code } : {};
  if (types.includes('token')) {
    const { tokens } = await issueUserTokens(ctx, {
      client,
      user,
      grant: wantsIdToken ? idTokenGrant : grant,
      ...nonce,
      ...code,
      withAtHash: true,
      includeIdToken: wantsIdToken,
      implicit: true,
      ...(actions ? { actions } : {}),
    });
    params.access_token = tokens.access_token;
    params.token_type = 'Bearer';
    params.expires_in = String(tokens.expires_in);
    if (tokens.scope) params.scope = tokens.scope;
    if (tokens.id_token) params.id_token = tokens.id_token;
  } else if (wantsIdToken) {
    // No access token was asked for: none is made.
    const customClaims = actions ? { customClaims: actions.idTokenClaims } : {};
    params.id_token = await signIdToken(
      ctx,
      { client, user, grant: idTokenGrant, ...nonce, ...code, ...customClaims },
      Math.floor(ctx.now() / 1000),
    );
  }
  if (request.state !== undefined) params.state = request.state;
  params.iss = ctx.issuer;
  return params;
}
