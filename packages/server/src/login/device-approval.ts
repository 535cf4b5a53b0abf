import type { Config } from '../config.js';
import type { AuthorizationRequest, DeviceCodeRecord, LoginTransaction } from '../domain/types.js';
import { recordEvent } from '../events/emit.js';
import { formatUserCode, lookUpUserCode } from '../oauth/device.js';
import type { GrantContext } from '../oauth/grants/types.js';
import { addressDigest } from './address.js';
import { newTransaction, type SignedIn, storeAnonymousTransaction } from './authorization-flow.js';
import { sessionServes } from './connection-access.js';
import { describeScopes, recordConsent } from './consent.js';

/**
 * The device flow's approval (RFC 8628 §3.3), decided without HTTP: the /activate pages read the
 * form and the session cookie, call one of the functions below and show what it returns.
 */
export type DeviceApprovalContext = GrantContext & { config: Pick<Config, 'loginTransactionsPerIp'> };

export interface DeviceApprovalInput {
  /** The code as the user typed it (any case, with or without the dash), if any. */
  userCode: string | undefined;
  /** The address the code comes from: wrong codes are counted against it. */
  ip: string;
  /** The browser's signed-in user; read only once the code is found. */
  signedIn: () => Promise<SignedIn | undefined>;
}

/** What the signed-in user is asked to confirm. */
export interface DeviceConfirmation {
  clientName: string;
  userCode: string;
  userName: string;
  scopes: Array<{ name: string; description: string }>;
}

export type DeviceApprovalStep =
  /** The code entry page again, saying why; `lock` when the address typed too many wrong codes. */
  | { show: 'entry'; status: 200 | 400 | 429; userCode?: string; error?: string; lock?: { until: Date; limit: number } }
  | { show: 'confirm'; confirmation: DeviceConfirmation }
  /** The ordinary login, whose transaction continues at the confirmation instead of an app. */
  | { show: 'sign-in'; tx: LoginTransaction }
  | { show: 'done'; approved: boolean };

export const INVALID_USER_CODE = 'That code is not valid or has expired. Check the code on your device and try again.';

type Found = { hash: string; record: DeviceCodeRecord; signedIn: SignedIn | undefined };

/**
 * The pending request for a typed code, counted against the address before it is checked, with the
 * signed-in user if the session may answer the device's app (else the user signs in again); or the
 * entry page saying why there is none.
 */
async function pendingRequest(ctx: DeviceApprovalContext, input: DeviceApprovalInput): Promise<Found | DeviceApprovalStep> {
  const lookup = await lookUpUserCode(ctx.storage, { userCode: input.userCode, ip: input.ip, now: ctx.now() });
  if ('refused' in lookup) {
    const userCode = input.userCode ? { userCode: input.userCode } : {};
    if (lookup.refused === 'locked') {
      const lock = { until: lookup.until, limit: lookup.limit };
      return { show: 'entry', status: 429, ...userCode, error: 'Too many wrong codes. Try again later.', lock };
    }
    recordEvent({ type: 'fdeac', description: 'Invalid or expired user code' });
    return { show: 'entry', status: 400, ...userCode, error: INVALID_USER_CODE };
  }
  const { deviceCodeHash: hash, record } = lookup.found;
  const signedIn = await input.signedIn();
  const client = (await ctx.lookups.client(record.clientId))?.client;
  const serves = signedIn !== undefined && client !== undefined && (await sessionServes(ctx.lookups, signedIn.session, { client }));
  return { hash, record, signedIn: serves ? signedIn : undefined };
}

async function confirmation(ctx: DeviceApprovalContext, record: DeviceCodeRecord, signedIn: SignedIn): Promise<DeviceApprovalStep> {
  const client = (await ctx.lookups.client(record.clientId))?.client;
  const api = record.audience ? await ctx.lookups.resourceServer(record.audience) : undefined;
  return {
    show: 'confirm',
    confirmation: {
      clientName: client?.name || 'the device',
      userCode: formatUserCode(record.userCode),
      userName: signedIn.user.email ?? signedIn.user.name ?? signedIn.user.user_id,
      scopes: describeScopes(record.scope, api),
    },
  };
}

/** A code typed on the entry page: confirm at once if signed in, else sign in first. */
export async function enterUserCode(ctx: DeviceApprovalContext, input: DeviceApprovalInput): Promise<DeviceApprovalStep> {
  const found = await pendingRequest(ctx, input);
  if ('show' in found) return found;
  if (found.signedIn) return confirmation(ctx, found.record, found.signedIn);
  const signInRequest: AuthorizationRequest = {
    clientId: found.record.clientId,
    redirectUri: `${ctx.issuer}activate`,
    responseType: 'code',
    responseMode: 'query',
    scope: found.record.scope,
    ...(found.record.audience ? { audience: found.record.audience } : {}),
    prompt: [],
  };
  // Anyone holding a live user code (any device can ask for one) may post this form again and
  // again: stored as /authorize's anonymous transactions are, short-lived and capped per address.
  const tx = await storeAnonymousTransaction(
    ctx,
    { ...newTransaction(signInRequest, ctx.now()), device: { userCode: found.record.userCode } },
    { source: addressDigest(input.ip), maxPending: ctx.config.loginTransactionsPerIp },
  );
  return { show: 'sign-in', tx };
}

/** The confirmation page of a code (where sign-in returns to); without a usable session, the entry page. */
export async function reviewUserCode(ctx: DeviceApprovalContext, input: DeviceApprovalInput): Promise<DeviceApprovalStep> {
  const found = await pendingRequest(ctx, input);
  if ('show' in found) return found;
  if (!found.signedIn) return { show: 'entry', status: 200, userCode: formatUserCode(found.record.userCode) };
  return confirmation(ctx, found.record, found.signedIn);
}

/**
 * The user's answer. The code is decided by compare-and-set, so of two answers (two tabs, two
 * users) only the first counts; an approval also records the consent to the app's scopes.
 */
export async function answerUserCode(
  ctx: DeviceApprovalContext,
  input: DeviceApprovalInput & { approve: boolean },
): Promise<DeviceApprovalStep> {
  const found = await pendingRequest(ctx, input);
  if ('show' in found) return found;
  const { hash, record, signedIn } = found;
  if (!signedIn) return { show: 'entry', status: 200, userCode: formatUserCode(record.userCode) };
  const decided = input.approve
    ? await ctx.storage.deviceCodes.decide(hash, 'approved', {
        userId: signedIn.user.user_id,
        sid: signedIn.session.sid,
        authTime: signedIn.session.authTime,
      })
    : await ctx.storage.deviceCodes.decide(hash, 'denied');
  if (!decided) return { show: 'entry', status: 400, error: 'That code was already used.' };
  const client = (await ctx.lookups.client(record.clientId))?.client;
  recordEvent({
    type: input.approve ? 'device_confirmed' : 'fdecc',
    client_id: record.clientId,
    ...(client ? { client_name: client.name } : {}),
    user_id: signedIn.user.user_id,
    ...(record.audience ? { audience: record.audience } : {}),
    scope: record.scope.join(' '),
  });
  if (input.approve) {
    const api = record.audience ? await ctx.lookups.resourceServer(record.audience) : undefined;
    if (client) await recordConsent(ctx.storage, client, api, signedIn.user.user_id, record.scope, ctx.now());
  }
  return { show: 'done', approved: input.approve };
}
