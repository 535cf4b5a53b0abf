/**
 * `@latchkey/desktop/node`: what a Node process (a CLI, Electron's main process) adds to the core:
 * the system browser, the loopback listener, the OS keychain and the encrypted file store.
 */
import { DesktopAuth } from '../client.js';
import { normaliseIssuer, type DesktopAuthOptions } from '../config.js';
import { openSystemBrowser } from './browser.js';
import { keychainStore } from './keyring.js';
import { loopbackRedirect } from './loopback.js';

export { openSystemBrowser } from './browser.js';
export { encryptedFileStore, passphraseCipher, type Cipher, type EncryptedFileStoreOptions } from './file-store.js';
export { keychainStore, type KeychainStoreOptions } from './keyring.js';
export { escapeHtml, loopbackRedirect, type LoopbackOptions } from './loopback.js';
export { secretToolStore, type SecretToolStoreOptions } from './secret-tool.js';

/**
 * A DesktopAuth with Node defaults: the OS browser, a 127.0.0.1 loopback listener on an ephemeral
 * port, and the OS keychain (service `latchkey-desktop`, account `CLIENT_ID@ISSUER_HOST`).
 * Every default can be replaced through the options.
 */
export function createNodeAuth(options: DesktopAuthOptions): DesktopAuth {
  const host = new URL(normaliseIssuer(options)).host;
  return new DesktopAuth({
    openUrl: openSystemBrowser,
    redirect: loopbackRedirect(),
    store: keychainStore({ service: 'latchkey-desktop', account: `${options.clientId}@${host}` }),
    ...options,
  });
}
