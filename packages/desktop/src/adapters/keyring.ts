import { KeychainUnavailable } from '../errors.js';
import type { TokenStore } from '../storage.js';

export interface KeychainStoreOptions {
  /** The keychain item's service, e.g. your app id (`com.example.notes`). */
  service: string;
  /** The item's account; one per signed-in app/tenant. */
  account: string;
}

/** The slice of @napi-rs/keyring's AsyncEntry (or its synchronous Entry) used here. */
interface KeyringEntry {
  getPassword(): Promise<string | null | undefined> | string | null | undefined;
  setPassword(password: string): Promise<void> | void;
  deleteCredential(): Promise<boolean> | boolean;
}

interface KeyringModule {
  AsyncEntry?: new (service: string, account: string) => KeyringEntry;
  Entry: new (service: string, account: string) => KeyringEntry;
}

// A variable, so bundlers leave the native module out of bundles that never open the keychain
// (Electron renderers, Tauri front ends); it loads on first use.
const KEYRING_MODULE = '@napi-rs/keyring';

/**
 * The OS keychain through @napi-rs/keyring (the default store): macOS Keychain, Windows
 * Credential Manager, the Secret Service on Linux (GNOME Keyring, KWallet, KeePassXC).
 *
 * Headless Linux: without a session bus, keyring-rs would quietly fall back to the kernel keyring,
 * which forgets everything at logout. This store refuses instead, with KeychainUnavailable.
 */
export function keychainStore(
  options: KeychainStoreOptions,
  environment: { platform: NodeJS.Platform; env: NodeJS.ProcessEnv } = process,
): TokenStore {
  let entry: Promise<KeyringEntry> | undefined;
  const open = () => (entry ??= openEntry(options, environment));

  async function call<T>(
    what: string,
    operation: (entry: KeyringEntry) => Promise<T> | T,
    opening: () => Promise<KeyringEntry> = open,
  ): Promise<T> {
    const opened = await opening();
    try {
      return await operation(opened);
    } catch (cause) {
      throw new KeychainUnavailable(`The OS keychain refused to ${what}: ${(cause as Error).message}`, { cause });
    }
  }

  return {
    load: () => call('read the token', async (e) => (await e.getPassword()) ?? null),
    save: (value) => call('store the token', (e) => e.setPassword(value)),
    clear: () => call('delete the token', deleteIfPresent),
    // A probe item next to the real one: a locked, missing or read-only keychain shows up here, and
    // the stored session is left alone.
    check: async () => {
      const probe = () => openEntry({ ...options, account: `${options.account}#probe` }, environment);
      const value = `probe-${Date.now()}`;
      await call('store a test item', (e) => e.setPassword(value), probe);
      const read = await call('read a test item', (e) => e.getPassword(), probe);
      await call('delete a test item', deleteIfPresent, probe);
      if (read !== value)
        throw new KeychainUnavailable('The OS keychain did not return what was stored in it (a read-only or misbehaving keyring).');
    },
  };
}

async function deleteIfPresent(entry: KeyringEntry): Promise<void> {
  try {
    await entry.deleteCredential();
  } catch (error) {
    // keyring-rs reports deleting a missing item as NoEntry; clearing an empty store is fine.
    if (!/no matching entry|not found|NoEntry/i.test((error as Error).message)) throw error;
  }
}

async function openEntry(
  options: KeychainStoreOptions,
  environment: { platform: NodeJS.Platform; env: NodeJS.ProcessEnv },
): Promise<KeyringEntry> {
  if (environment.platform === 'linux' && !environment.env.DBUS_SESSION_BUS_ADDRESS) throw noSecretService();
  let keyring: KeyringModule;
  try {
    keyring = (await import(KEYRING_MODULE)) as KeyringModule;
  } catch (cause) {
    throw new KeychainUnavailable(
      "The OS keychain module (@napi-rs/keyring) could not be loaded; reinstall the app's dependencies or pass another store",
      { cause },
    );
  }
  const Entry = keyring.AsyncEntry ?? keyring.Entry;
  return new Entry(options.service, options.account);
}

export function noSecretService(): KeychainUnavailable {
  return new KeychainUnavailable(
    'No Secret Service (OS keychain) is reachable: DBUS_SESSION_BUS_ADDRESS is not set. ' +
      'On a desktop, start GNOME Keyring or KWallet; on a server, run the app inside `dbus-run-session` with ' +
      '`gnome-keyring-daemon --unlock`, use the device flow on a machine that has one, or opt in to ' +
      'encryptedFileStore() with a passphrase. Tokens are never written in plain text.',
  );
}
