import { DesktopAuth, deepLinkRedirect, type FetchLike } from '@latchkey/desktop';
import { forwardTauriDeepLinks, invokeStore, type TauriDeepLink, type TauriInvoke } from '@latchkey/desktop/tauri';

export interface TauriAuthConfig {
  issuer: string;
  clientId: string;
  audience: string;
  /** Registered in tauri.conf.json (plugins.deep-link.desktop.schemes) and as an Allowed Callback URL. */
  redirectUri: string;
}

export interface TauriPlugins {
  /** `openUrl` from @tauri-apps/plugin-opener: the system browser. */
  openUrl: (url: string) => Promise<void>;
  /** `onOpenUrl` and `getCurrent` from @tauri-apps/plugin-deep-link. */
  deepLink: TauriDeepLink;
  /** `invoke` from @tauri-apps/api/core, for the Rust keychain commands (README). */
  invoke: TauriInvoke;
  /** The webview's fetch needs the app's origin in the Auth0 application's Allowed Web Origins (CORS). */
  fetch?: FetchLike;
}

/**
 * The SDK in a Tauri 2 webview: the system browser through the opener plugin, the callback through
 * the deep-link plugin into handleRedirect(), and the refresh token in the OS keychain on the Rust side.
 */
export async function createTauriAuth(
  config: TauriAuthConfig,
  plugins: TauriPlugins,
): Promise<{ auth: DesktopAuth; stopListening: () => void }> {
  const auth = new DesktopAuth({
    issuer: config.issuer,
    clientId: config.clientId,
    audience: config.audience,
    redirect: deepLinkRedirect(config.redirectUri),
    openUrl: plugins.openUrl,
    store: invokeStore(plugins.invoke),
    // The window stays open: refresh ahead of expiry, ride out outages, catch up after sleep.
    backgroundRefresh: true,
    ...(plugins.fetch ? { fetch: plugins.fetch } : {}),
  });
  const stopListening = await forwardTauriDeepLinks(auth, plugins.deepLink);
  return { auth, stopListening };
}
