import { DesktopAuth, type DesktopAuthOptions, type TokenStore } from '@latchkey/desktop';
import {
  encryptedFileStore,
  keychainStore,
  loopbackRedirect,
  openSystemBrowser,
  passphraseCipher,
  secretToolStore,
} from '@latchkey/desktop/node';
import { type CliConfig, UsageError } from './config.js';

export function storeFor(config: CliConfig): TokenStore {
  const account = `${config.clientId}@${config.issuer ?? config.domain}`;
  switch (config.store) {
    case 'keychain':
      return keychainStore({ service: 'latchkey-cli', account });
    case 'secret-tool':
      return secretToolStore({ service: 'latchkey-cli', account });
    case 'file':
      // The opt-in for machines without a keychain: encrypted with the user's passphrase, never plain.
      if (!config.passphrase) throw new UsageError('--store file needs LATCHKEY_CLI_STORE_PASSPHRASE.');
      return encryptedFileStore({ path: config.storePath, cipher: passphraseCipher(config.passphrase) });
  }
}

/**
 * The SDK as this CLI uses it: loopback redirect, the OS browser (or printing the URL), and the
 * chosen store. `overrides` lets tests pass a browser of their own or count requests.
 */
export function createCliAuth(config: CliConfig, print: (line: string) => void, overrides: Partial<DesktopAuthOptions> = {}): DesktopAuth {
  return new DesktopAuth({
    ...(config.issuer ? { issuer: config.issuer } : { domain: config.domain! }),
    clientId: config.clientId,
    ...(config.audience ? { audience: config.audience } : {}),
    redirect: loopbackRedirect({
      successPage: (user) =>
        `<!doctype html><meta charset="utf-8"><title>Signed in</title>` +
        `<p>Signed in as ${escapeHtml(String(user.name ?? user.sub))}. You may close this tab and return to the terminal.</p>`,
    }),
    openUrl: async (url) => {
      print(`Open this URL to sign in: ${url}`);
      if (config.openBrowser) await openSystemBrowser(url).catch(() => print('(Could not start a browser; open the URL yourself.)'));
    },
    store: storeFor(config),
    ...overrides,
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
