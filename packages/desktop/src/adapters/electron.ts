/**
 * `@latchkey/desktop/electron`: Electron's main process. Structural types only, so the SDK does not
 * depend on a particular Electron version; pass `safeStorage` and `app` from 'electron'.
 */
import type { DesktopAuth } from '../client.js';
import { KeychainUnavailable } from '../errors.js';
import type { Cipher } from './file-store.js';

export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Uint8Array;
  decryptString(encrypted: Buffer): string;
  /** Linux only: which secret store backs the key. */
  getSelectedStorageBackend?(): string;
}

/**
 * Electron's safeStorage as the file store's cipher: the key lives in the OS keychain (Keychain,
 * DPAPI, Secret Service / KWallet). On Linux without a secret store Electron falls back to
 * `basic_text`, a key hard-coded in Chromium; that is plain text in disguise, so it is refused.
 */
export function safeStorageCipher(safeStorage: SafeStorageLike): Cipher {
  const check = () => {
    if (!safeStorage.isEncryptionAvailable()) throw new KeychainUnavailable('Electron safeStorage is not available yet (call it after app "ready") or not on this system.');
    if (safeStorage.getSelectedStorageBackend?.() === 'basic_text') {
      throw new KeychainUnavailable('Electron safeStorage has no OS secret store here (backend basic_text, a fixed key). Install and unlock GNOME Keyring or KWallet.');
    }
  };
  return {
    async encrypt(plaintext) {
      check();
      return safeStorage.encryptString(new TextDecoder().decode(plaintext));
    },
    async decrypt(ciphertext) {
      check();
      return new TextEncoder().encode(safeStorage.decryptString(Buffer.from(ciphertext)));
    },
  };
}

export interface ElectronAppLike {
  on(event: 'open-url', listener: (event: { preventDefault(): void }, url: string) => void): unknown;
  on(event: 'second-instance', listener: (event: unknown, argv: string[]) => void): unknown;
}

/**
 * Routes custom-scheme callbacks to auth.handleRedirect(): macOS delivers them as `open-url`,
 * Windows and Linux start a second instance with the URL in argv (the app must hold the
 * single-instance lock, and check `process.argv` itself at start-up).
 */
export function forwardDeepLinks(app: ElectronAppLike, auth: DesktopAuth): void {
  app.on('open-url', (event, url) => {
    if (auth.handleRedirect(url)) event.preventDefault();
  });
  app.on('second-instance', (_event, argv) => {
    for (const arg of argv) if (auth.handleRedirect(arg)) break;
  });
}
