/**
 * @latchkey/desktop core: runtime-agnostic (fetch, WebCrypto, jose). Node, Electron and Tauri
 * specifics live in `@latchkey/desktop/node`, `/electron` and `/tauri`.
 */
export {
  DesktopAuth,
  type DeviceLoginOptions,
  type GetAccessTokenOptions,
  type LoginOptions,
  type LogoutOptions,
  type LogoutResult,
} from './client.js';
export { type BackgroundRefreshOptions, DEFAULT_SCOPE, type DesktopAuthOptions, type FetchLike, type Timers } from './config.js';
export type { DeviceCodePrompt } from './device-flow.js';
export type { ServerMetadata } from './discovery.js';
export * from './errors.js';
export type { AuthEvents, AuthStatus } from './events.js';
export type { UserProfile } from './id-token.js';
export { type DeliverCallback, deepLinkRedirect, type LoginOutcome, type OpenRedirect, type RedirectStrategy } from './redirect.js';
export { memoryStore, type TokenStore } from './storage.js';
export type { TokenResponse } from './token-endpoint.js';
