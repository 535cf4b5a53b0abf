import type { AuthorizationCodeRecord } from '../../domain/types.js';
import { recordEvent } from '../../events/emit.js';
import { signedInBeforePasswordChange } from '../../login/sessions.js';
import { OAuthError } from '../errors.js';
import { pkceVerifierMatches } from '../pkce.js';
import { digestToken, issueUserTokens } from '../user-tokens.js';
import { offersRefreshToken } from './refresh-policy.js';
import type { GrantContext, GrantHandler } from './types.js';

const invalidCode = () => new OAuthError('invalid_grant', 'Invalid authorization code');

/** RFC 6749 §4.1.2: what a code issued is revoked when the code is seen again. */
async function revokeIssued(ctx: GrantContext, record: AuthorizationCodeRecord, nowIso: string): Promise<void> {
  if (record.familyId) await ctx.storage.refreshTokens.revokeFamily(record.familyId, nowIso);
  if (record.accessTokenHash) await ctx.storage.accessTokens.delete(record.accessTokenHash);
}

/**
 * A code seen again: marked first, then what it has issued so far is revoked. The redemption marks
 * nothing but records its tokens and then reads the mark, so of two racing requests at least one
 * sees the other's write, and the tokens never survive a replay.
 */
async function replayed(ctx: GrantContext, codeHash: string, nowIso: string): Promise<never> {
  await ctx.storage.codes.markReplayed(codeHash, nowIso);
  const record = await ctx.storage.codes.get(codeHash);
  if (record) await revokeIssued(ctx, record, nowIso);
  recordEvent({
    type: 'feacft',
    description: 'Authorization code reuse detected: what it issued was revoked',
    ...(record ? { client_id: record.data.clientId, user_id: record.data.userId } : {}),
    details: { reuse_detected: true },
  });
  throw invalidCode();
}

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6). Checks run before the code is claimed, so a party
 * without the verifier cannot burn a code; a code seen twice revokes what it issued (§4.1.2).
 */
export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  confidentialOnly: false,
  parameters: [{ name: 'code', required: true }, { name: 'redirect_uri' }, { name: 'code_verifier' }],
  dynamicRegistration: true,
  events: { success: 'seacft', failure: 'feacft' },

  async handle(ctx, { client }, params) {
    const codeHash = digestToken(params.code!);
    const record = await ctx.storage.codes.get(codeHash);
    if (!record) throw invalidCode();
    const nowIso = new Date(ctx.now()).toISOString();
    if (record.consumedAt !== null) return replayed(ctx, codeHash, nowIso);
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
    const user = (await ctx.storage.users.get(code.userId))?.user;
    if (!user || user.blocked || signedInBeforePasswordChange(user, code.authTime)) throw invalidCode();
    // Losing the race with another presentation of the same code is a replay too.
    if (!(await ctx.storage.codes.claim(codeHash, nowIso))) return replayed(ctx, codeHash, nowIso);

    const { redirectUri: _r, nonce, codeChallenge: _c, actions, ...grant } = code;
    const { tokens, familyId, opaqueTokenHash } = await issueUserTokens(ctx, {
      client,
      user,
      grant,
      ...(nonce !== undefined ? { nonce } : {}),
      ...(actions ? { actions } : {}),
      ...((await offersRefreshToken(ctx, client, grant)) ? { refresh: 'new' as const } : {}),
    });
    if (familyId || opaqueTokenHash) {
      await ctx.storage.codes.recordTokens(codeHash, { familyId, accessTokenHash: opaqueTokenHash });
      // A replay that came while these tokens were made may have found nothing to revoke yet.
      const after = await ctx.storage.codes.get(codeHash);
      if (after?.replayedAt) {
        await revokeIssued(ctx, after, nowIso);
        throw invalidCode();
      }
    }
    return tokens;
  },
};
