import { OAuthError } from '../errors.js';
import { pkceVerifierMatches } from '../pkce.js';
import { digestToken, issueUserTokens } from '../user-tokens.js';
import { offersRefreshToken } from './refresh-policy.js';
import type { GrantHandler } from './types.js';

const invalidCode = () => new OAuthError('invalid_grant', 'Invalid authorization code');

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6). Checks run before the code is claimed, so a party
 * without the verifier cannot burn a code; a code seen twice revokes what it issued (§4.1.2).
 */
export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  confidentialOnly: false,

  async handle(ctx, { client }, params) {
    if (!params.code) throw new OAuthError('invalid_request', 'Missing required parameter: code');
    const codeHash = digestToken(params.code);
    const record = await ctx.storage.getAuthorizationCode(codeHash);
    if (!record) throw invalidCode();
    const nowIso = new Date(ctx.now()).toISOString();
    if (record.consumedAt !== null) {
      if (record.familyId) await ctx.storage.revokeRefreshTokenFamily(record.familyId, nowIso);
      if (record.accessTokenHash) await ctx.storage.deleteOpaqueAccessToken(record.accessTokenHash);
      throw invalidCode();
    }
    const code = record.data;
    if (Date.parse(record.expiresAt) <= ctx.now()) throw invalidCode();
    if (code.clientId !== client.client_id) throw invalidCode();
    if (params.redirect_uri !== code.redirectUri) {
      throw new OAuthError('invalid_grant', 'The redirect_uri does not match the one of the authorization request');
    }
    if (code.codeChallenge !== undefined) {
      if (!params.code_verifier) throw new OAuthError('invalid_grant', 'Missing required parameter: code_verifier');
      if (!pkceVerifierMatches(code.codeChallenge, params.code_verifier)) {
        throw new OAuthError('invalid_grant', 'Failed to verify code verifier');
      }
    } else if (params.code_verifier !== undefined) {
      throw new OAuthError('invalid_grant', 'code_verifier sent, but the authorization request had no code_challenge');
    }
    const user = (await ctx.storage.getUser(code.userId))?.user;
    if (!user || user.blocked) throw invalidCode();
    if (!(await ctx.storage.claimAuthorizationCode(codeHash, nowIso))) {
      // Lost a race with another presentation of the same code: that is a replay too.
      throw invalidCode();
    }

    const { redirectUri: _r, nonce, codeChallenge: _c, ...grant } = code;
    const { tokens, familyId, opaqueTokenHash } = await issueUserTokens(ctx, {
      client,
      user,
      grant,
      ...(nonce !== undefined ? { nonce } : {}),
      ...((await offersRefreshToken(ctx, client, grant)) ? { refresh: 'new' as const } : {}),
    });
    if (familyId || opaqueTokenHash) await ctx.storage.recordCodeTokens(codeHash, { familyId, accessTokenHash: opaqueTokenHash });
    return tokens;
  },
};
