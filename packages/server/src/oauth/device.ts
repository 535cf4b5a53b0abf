import { randomBytes, randomInt } from 'node:crypto';
import { userFacingApi } from './audience.js';
import { OAuthError } from './errors.js';
import type { GrantContext } from './grants/types.js';
import { grantedScopes, parseScope } from './scope.js';
import { digestToken } from './user-tokens.js';
import type { Client, DeviceCodeRecord } from '../storage/types.js';

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
    if (await ctx.storage.insertDeviceCode(digestToken(deviceCode), record)) {
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
