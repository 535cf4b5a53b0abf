import type { FetchLike } from './config.js';
import { DeviceCodeExpired, OAuthRequestFailed, RequestFailed } from './errors.js';
import { postForm, type TokenResponse, tokenRequest } from './token-endpoint.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What to show the user (RFC 8628 §3.3): the code and where to enter it. */
export interface DeviceCodePrompt {
  userCode: string;
  verificationUri: string;
  /** The URL with the code filled in; good for a QR code or a clickable link. */
  verificationUriComplete?: string;
  /** Seconds until the code expires. */
  expiresIn: number;
}

export interface DeviceAuthorization extends DeviceCodePrompt {
  deviceCode: string;
  /** Seconds between polls. */
  interval: number;
}

/** RFC 8628 §3.1–3.2. Auth0 answers with the same fields; some servers spell it `verification_url`. */
export async function requestDeviceAuthorization(
  fetchImpl: FetchLike,
  endpoint: string,
  params: { clientId: string; scope: string; audience?: string },
  signal?: AbortSignal,
): Promise<DeviceAuthorization> {
  const body = await postForm(
    fetchImpl,
    endpoint,
    { client_id: params.clientId, scope: params.scope, ...(params.audience ? { audience: params.audience } : {}) },
    signal,
  );
  const verificationUri = body.verification_uri ?? body.verification_url;
  const complete = body.verification_uri_complete ?? body.verification_url_complete;
  if (
    typeof body.device_code !== 'string' ||
    typeof body.user_code !== 'string' ||
    typeof verificationUri !== 'string' ||
    typeof body.expires_in !== 'number'
  ) {
    throw new RequestFailed('The device authorization response lacks device_code, user_code, verification_uri or expires_in');
  }
  return {
    deviceCode: body.device_code,
    userCode: body.user_code,
    verificationUri,
    ...(typeof complete === 'string' ? { verificationUriComplete: complete } : {}),
    expiresIn: body.expires_in,
    // §3.2: 5 seconds when the server does not say.
    interval: typeof body.interval === 'number' && body.interval > 0 ? body.interval : 5,
  };
}

export interface PollOptions {
  fetch: FetchLike;
  tokenEndpoint: string;
  clientId: string;
  authorization: DeviceAuthorization;
  startedAt: number;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  signal: AbortSignal;
}

/**
 * Polls the token endpoint until the user approves (RFC 8628 §3.4–3.5): waits `interval` before each
 * poll, adds 5 s on `slow_down`, keeps going on `authorization_pending`, and stops at expiry or denial.
 */
export async function pollForDeviceTokens(options: PollOptions): Promise<TokenResponse> {
  const expiresAt = options.startedAt + options.authorization.expiresIn * 1000;
  let intervalMs = options.authorization.interval * 1000;
  for (;;) {
    await options.sleep(intervalMs, options.signal);
    if (options.now() >= expiresAt) throw new DeviceCodeExpired();
    try {
      return await tokenRequest(
        options.fetch,
        options.tokenEndpoint,
        { grant_type: DEVICE_CODE_GRANT, device_code: options.authorization.deviceCode, client_id: options.clientId },
        options.signal,
      );
    } catch (error) {
      if (!(error instanceof OAuthRequestFailed)) throw error;
      if (error.error === 'authorization_pending') continue;
      if (error.error === 'slow_down') {
        intervalMs += 5000;
        continue;
      }
      if (error.error === 'expired_token') throw new DeviceCodeExpired();
      throw error;
    }
  }
}
