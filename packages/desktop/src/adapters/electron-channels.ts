/**
 * The contract between `registerAuthBridge` (Electron main) and `exposeAuthBridge` (preload): fixed
 * channel names, and what travels on them. Nothing here imports the SDK, so the preload bundle
 * stays a few hundred bytes and never contains token handling.
 */
import type { AuthStatus } from '../events.js';
import type { UserProfile } from '../id-token.js';

export const AUTH_BRIDGE_CHANNELS = {
  login: 'latchkey:login',
  logout: 'latchkey:logout',
  getAccessToken: 'latchkey:get-access-token',
  getProfile: 'latchkey:get-profile',
  /** Renderer → main: start sending status events to this window (the current one first). */
  subscribe: 'latchkey:subscribe',
  /** Main → renderer: a new status. */
  status: 'latchkey:status',
} as const;

/** What a renderer may ask login() for; the main process checks every field. */
export interface BridgeLoginOptions {
  audience?: string;
  scope?: string;
  prompt?: 'none' | 'login' | 'consent' | 'select_account';
  loginHint?: string;
  maxAge?: number;
}

export interface BridgeTokenOptions {
  audience?: string;
  scope?: string;
  forceRefresh?: boolean;
}

/**
 * The codes a bridge call fails with: the DesktopAuthError's code, `sender_not_allowed` for a frame
 * the app did not allow, `unexpected` for anything else (its details stay in the main process).
 */
export interface BridgeFailure {
  code: string;
  message: string;
}

/** Errors do not survive IPC as objects, so every answer is an envelope the preload unwraps. */
export type BridgeResult<T> = { ok: true; value: T } | { ok: false; error: BridgeFailure };

/**
 * `window.latchkey` in the renderer: sign-in, sign-out, access tokens and the profile. No refresh
 * token, id_token or token response ever crosses: they stay in the main process.
 */
export interface AuthBridge {
  login(options?: BridgeLoginOptions): Promise<UserProfile>;
  /** Revokes and clears in main; main also opens the provider's logout page in the system browser. */
  logout(): Promise<{ revoked: boolean }>;
  getAccessToken(options?: BridgeTokenOptions): Promise<string>;
  getProfile(): Promise<UserProfile | null>;
  /** Called with the current status at once, then on every change. Returns the unsubscribe function. */
  onStatus(listener: (status: AuthStatus) => void): () => void;
}
