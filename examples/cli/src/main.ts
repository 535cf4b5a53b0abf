import { DesktopAuthError } from '@latchkey/desktop';
import { openSystemBrowser } from '@latchkey/desktop/node';
import { createCliAuth } from './auth.js';
import { callApi, login, logout, whoami } from './commands.js';
import { CLI_NAME, type CliConfig, readConfig, USAGE, UsageError } from './config.js';
import { explain } from './messages.js';

const print = (line: string) => console.log(line);

async function main(config: CliConfig): Promise<number> {
  if (config.help) {
    print(USAGE);
    return 0;
  }
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
      if (url && config.openBrowser) await openSystemBrowser(url).catch(() => undefined);
      return 0;
    }
    default:
      throw new UsageError(config.command ? `Unknown command ${config.command}.` : 'Missing command.');
  }
}

let config: CliConfig | undefined;
try {
  config = readConfig(process.argv.slice(2), process.env);
  process.exitCode = await main(config);
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof DesktopAuthError) {
    console.error(explain(error, config));
    process.exitCode = error.code === 'login_cancelled' ? 130 : 1;
  } else {
    // Not a stack trace: a user ran a command. LATCHKEY_CLI_DEBUG=1 shows the details.
    console.error(`${CLI_NAME}: ${(error as Error).message ?? String(error)}`);
    if (process.env.LATCHKEY_CLI_DEBUG) console.error(error);
    process.exitCode = 1;
  }
}
