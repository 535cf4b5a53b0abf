/**
 * `@latchkey/desktop/node`: what a Node process (a CLI, Electron's main process) adds to the core:
 * the system browser, the loopback listener, the OS keychain and the encrypted file store.
 */
import { DesktopAuth } from '../client.js';
import { type DesktopAuthOptions, normaliseIssuer } from '../config.js';
import { openSystemBrowser } from './browser.js';
import { keychainStore } from './keyring.js';
import { loopbackRedirect } from './loopback.js';

export { openSystemBrowser } from './browser.js';
export { type Cipher, type EncryptedFileStoreOptions, encryptedFileStore, passphraseCipher } from './file-store.js';
export { type KeychainStoreOptions, keychainStore } from './keyring.js';
export { escapeHtml, type LoopbackOptions, loopbackRedirect } from './loopback.js';
export { type SecretToolStoreOptions, secretToolStore } from './secret-tool.js';

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
