import { randomBytes, randomInt } from 'node:crypto';
import type { Client, DeviceCodeRecord } from '../domain/types.js';
import { addressKey } from '../login/address.js';
import { type AttemptLimit, countAttempt } from '../login/throttle.js';
import type { Storage } from '../storage/types.js';
import { userFacingApi } from './audience.js';
import { OAuthError } from './errors.js';
import type { GrantContext } from './grants/types.js';
import { grantedScopes, parseScope } from './scope.js';
import { digestToken } from './user-tokens.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const DEVICE_CODE_LIFETIME_SECONDS = 900;
/** Seconds a device waits between polls; polling faster earns slow_down. */
export const POLL_INTERVAL_SECONDS = 5;

/** RFC 8628 §6.1: consonants only (no vowels, so no words), 20^8 codes, easy to type on a phone. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** `bcdf-ghjk`, `BCDFGHJK` and `BCDF GHJK` are the same code; anything else is not a code. */
export function normalizeUserCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  return code.length === USER_CODE_LENGTH && [...code].every((c) => USER_CODE_ALPHABET.includes(c)) ? code : undefined;
}

export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/** Wrong user codes per address in an hour, across every page that takes one; then locked for the hour. */
export const USER_CODE_GUESSES: AttemptLimit = { maxFailures: 50, windowMs: 60 * 60_000, lockMs: 60 * 60_000 };

export type UserCodeLookup =
  | { found: { deviceCodeHash: string; record: DeviceCodeRecord } }
  | { refused: 'invalid' }
  | { refused: 'locked'; until: Date; limit: number };

/**
 * The pending, unexpired request a user typed the code of. Every look-up is counted against the
 * address before the code is checked (as password attempts are), so a burst of parallel guesses
 * gets no more than USER_CODE_GUESSES.maxFailures codes checked; a right code takes its count back.
 */
export async function lookUpUserCode(
  storage: Pick<Storage, 'deviceCodes' | 'throttles'>,
  input: { userCode: string | undefined; ip: string; now: number },
): Promise<UserCodeLookup> {
  // Per IPv4 address or IPv6 /64: one subscriber's /64 would otherwise buy unlimited guesses.
  const key = `activate:${addressKey(input.ip)}`;
  const attempt = await countAttempt(storage, key, USER_CODE_GUESSES, input.now);
  if (attempt.lockedUntil) return { refused: 'locked', until: attempt.lockedUntil, limit: USER_CODE_GUESSES.maxFailures };
  const code = input.userCode ? normalizeUserCode(input.userCode) : undefined;
  const found = code ? await storage.deviceCodes.findByUserCode(code) : undefined;
  if (found?.record.status !== 'pending' || Date.parse(found.record.expiresAt) <= input.now) return { refused: 'invalid' };
  await storage.throttles.forgiveFailure(key);
  return { found };
}

export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** RFC 8628 §3.1–3.2: a device code for the device, a user code for the person. */
export async function startDeviceAuthorization(
  ctx: GrantContext,
  client: Client,
  params: { scope?: string; audience?: string },
): Promise<DeviceAuthorizationResponse> {
  if (!client.grant_types.includes(DEVICE_CODE_GRANT)) {
    throw new OAuthError('unauthorized_client', `Grant type '${DEVICE_CODE_GRANT}' not allowed for the client.`);
  }
  const { audience, api } = await userFacingApi(ctx, params.audience);
  const deviceCode = randomBytes(32).toString('base64url');
  const expiresAt = new Date(ctx.now() + DEVICE_CODE_LIFETIME_SECONDS * 1000).toISOString();
  for (let attempt = 0; attempt < 5; attempt++) {
    const userCode = newUserCode();
    const record: DeviceCodeRecord = {
      userCode,
      status: 'pending',
      clientId: client.client_id,
      scope: grantedScopes(parseScope(params.scope), api),
      ...(audience ? { audience } : {}),
      expiresAt,
      lastPolledAt: null,
    };
    if (await ctx.storage.deviceCodes.insert(digestToken(deviceCode), record)) {
      const verificationUri = `${ctx.issuer}activate`;
      return {
        device_code: deviceCode,
        user_code: formatUserCode(userCode),
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${formatUserCode(userCode)}`,
        expires_in: DEVICE_CODE_LIFETIME_SECONDS,
        interval: POLL_INTERVAL_SECONDS,
      };
    }
  }
  throw new OAuthError('server_error', 'Could not allocate a user code', 500);
}
