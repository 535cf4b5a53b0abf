import { spawn } from 'node:child_process';
import { BrowserOpenFailed } from '../errors.js';

/**
 * Opens a URL in the user's default browser. Resolves once the opener started: whether a browser
 * then appears cannot be known, so CLIs should print the URL as well.
 */
export function openSystemBrowser(url: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  const protocol = new URL(url).protocol;
  if (protocol !== 'https:' && protocol !== 'http:')
    return Promise.reject(new TypeError(`Refusing to open a ${protocol} URL in the browser.`));
  const [command, args] = openerFor(platform, url);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.once('error', (cause) => reject(new BrowserOpenFailed(url, { cause })));
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

export function openerFor(platform: NodeJS.Platform, url: string): [string, string[]] {
  if (platform === 'darwin') return ['open', [url]];
  // Not `cmd /c start`: cmd would treat `&` and `%` in the URL as syntax. rundll32 takes it verbatim.
  if (platform === 'win32') return ['rundll32', ['url.dll,FileProtocolHandler', url]];
  return ['xdg-open', [url]];
}
