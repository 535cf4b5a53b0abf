import { DesktopAuthError } from '@latchkey/desktop';
import { openSystemBrowser } from '@latchkey/desktop/node';
import { createCliAuth } from './auth.js';
import { callApi, login, logout, whoami } from './commands.js';
import { readConfig, USAGE, UsageError } from './config.js';

const print = (line: string) => console.log(line);

async function main(): Promise<number> {
  const config = readConfig(process.argv.slice(2), process.env);
  const auth = createCliAuth(config, print);
  switch (config.command) {
    case 'login': {
      // Ctrl-C while waiting for the browser: the SDK closes the loopback listener and rejects.
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      await login(auth, config, print, controller.signal);
      return 0;
    }
    case 'whoami':
      return (await whoami(auth, print)) ? 0 : 1;
    case 'call-api':
      return (await callApi(auth, config, print)) ? 0 : 1;
    case 'logout': {
      const url = await logout(auth, print);
      if (config.openBrowser) await openSystemBrowser(url).catch(() => undefined);
      return 0;
    }
    default:
      throw new UsageError(config.command ? `Unknown command ${config.command}.` : 'Missing command.');
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    if (error instanceof UsageError) console.error(`${error.message}\n\n${USAGE}`);
    else if (error instanceof DesktopAuthError) console.error(`${error.code}: ${error.message}`);
    else console.error(error);
    process.exitCode = error instanceof DesktopAuthError && error.code === 'login_cancelled' ? 130 : 1;
  },
);
