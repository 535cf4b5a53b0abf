/**
 * `@latchkey/desktop/tauri`: the JavaScript side of a Tauri 2 app. Structural types, so the SDK does
 * not depend on the plugins: pass `onOpenUrl`/`getCurrent` from @tauri-apps/plugin-deep-link,
 * `openUrl` from @tauri-apps/plugin-opener and `invoke` from @tauri-apps/api/core.
 */
import type { DesktopAuth } from '../client.js';
import { KeychainUnavailable } from '../errors.js';
import type { TokenStore } from '../storage.js';

export interface TauriDeepLink {
  onOpenUrl(handler: (urls: string[]) => void): Promise<() => void>;
  getCurrent?(): Promise<string[] | null>;
}

/** Hands deep links to auth.handleRedirect(), including one that started the app. Returns the unlisten function. */
export async function forwardTauriDeepLinks(auth: DesktopAuth, deepLink: TauriDeepLink): Promise<() => void> {
  const forward = (urls: string[] | null) => {
    for (const url of urls ?? []) if (auth.handleRedirect(url)) break;
  };
  const unlisten = await deepLink.onOpenUrl(forward);
  forward((await deepLink.getCurrent?.()) ?? null);
  return unlisten;
}

export type TauriInvoke = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;

export interface InvokeStoreCommands {
  load: string;
  save: string;
  clear: string;
}

/**
 * A TokenStore backed by three Rust commands (see the Tauri example's README: they use the keyring
 * crate, so the refresh token sits in the OS keychain, out of the webview's reach when idle).
 */
export function invokeStore(
  invoke: TauriInvoke,
  commands: InvokeStoreCommands = { load: 'token_load', save: 'token_save', clear: 'token_clear' },
): TokenStore {
  const call = async <T>(command: string, args?: Record<string, unknown>) => {
    try {
      return await invoke<T>(command, args);
    } catch (cause) {
      throw new KeychainUnavailable(`The app's keychain command ${command} failed: ${String(cause)}`, { cause });
    }
  };
  return {
    load: async () => (await call<string | null>(commands.load)) ?? null,
    save: (value) => call<void>(commands.save, { value }),
    clear: () => call<void>(commands.clear),
  };
}
