import { signedInBeforePasswordChange } from '../../login/sessions.js';
import { DEVICE_CODE_GRANT, POLL_INTERVAL_SECONDS } from '../device.js';
import { OAuthError } from '../errors.js';
import { digestToken, issueUserTokens } from '../user-tokens.js';
import { offersRefreshToken } from './refresh-policy.js';
import type { GrantHandler } from './types.js';

/**
 * RFC 8628 §3.4–3.5: the device polls until the user approved or denied, or the code expired. The
 * approved code is consumed atomically, so two racing polls cannot both get tokens.
 */
export const deviceCodeGrant: GrantHandler = {
  grantType: DEVICE_CODE_GRANT,
  confidentialOnly: false,
  parameters: [{ name: 'device_code', required: true }],
  events: { success: 'sede', failure: 'fede' },

  async handle(ctx, { client }, params, meta) {
    const hash = digestToken(params.device_code!);
    const record = await ctx.storage.deviceCodes.get(hash);
    if (!record || record.clientId !== client.client_id) throw new OAuthError('invalid_grant', 'Invalid or expired device code.');
    const now = ctx.now();
    if (Date.parse(record.expiresAt) <= now) throw new OAuthError('expired_token', 'The device code has expired. Start again.');
    if (record.status === 'denied') throw new OAuthError('access_denied', 'The user denied the request.');
    if (record.status === 'consumed') throw new OAuthError('invalid_grant', 'Invalid or expired device code.');

    const previousPoll = await ctx.storage.deviceCodes.recordPoll(hash, new Date(now).toISOString());
    if (record.status === 'pending') {
      if (previousPoll && now - Date.parse(previousPoll) < POLL_INTERVAL_SECONDS * 1000) {
        throw new OAuthError('slow_down', `Polling too fast: wait at least ${POLL_INTERVAL_SECONDS} seconds between requests.`);
      }
      throw new OAuthError('authorization_pending', 'User has yet to authorize device code.');
    }
    if (!(await ctx.storage.deviceCodes.consume(hash))) throw new OAuthError('invalid_grant', 'Invalid or expired device code.');
    const approval = record.approval!;
    const user = (await ctx.storage.users.get(approval.userId))?.user;
    if (!user || user.blocked || signedInBeforePasswordChange(user, approval.authTime))
      throw new OAuthError('invalid_grant', 'Invalid or expired device code.');
    const grant = {
      clientId: client.client_id,
      userId: user.user_id,
      scope: record.scope,
      ...(record.audience ? { audience: record.audience } : {}),
      sid: approval.sid,
      authTime: approval.authTime,
    };
    const { tokens } = await issueUserTokens(ctx, {
      client,
      user,
      grant,
      postLogin: { protocol: 'oauth2-device-code', request: { ip: meta.ip } },
      ...((await offersRefreshToken(ctx, client, grant)) ? { refresh: 'new' as const } : {}),
    });
    return tokens;
  },
};
