import type { DesktopAuth } from '@latchkey/desktop';
import { CLI_NAME, type CliConfig, UsageError } from './config.js';

export type Print = (line: string) => void;

export async function login(auth: DesktopAuth, config: CliConfig, print: Print, signal?: AbortSignal): Promise<void> {
  const user = config.device
    ? await auth.loginWithDeviceCode({
        ...(signal ? { signal } : {}),
        onPrompt: (prompt) => {
          print(`To sign in, visit ${prompt.verificationUri} and enter the code ${prompt.userCode}`);
          if (prompt.verificationUriComplete) print(`(or open ${prompt.verificationUriComplete})`);
        },
      })
    : await auth.login(signal ? { signal } : {});
  print(`Signed in as ${user.name ?? user.sub}${user.email ? ` <${user.email}>` : ''}`);
}

/** Silent sign-in from the stored refresh token: no browser. */
export async function whoami(auth: DesktopAuth, print: Print): Promise<boolean> {
  const user = await auth.restore();
  if (!user) {
    print(`Not signed in. Run: ${CLI_NAME} login`);
    return false;
  }
  print(`${user.name ?? user.sub}${user.email ? ` <${user.email}>` : ''} (${user.sub})`);
  return true;
}

export async function callApi(auth: DesktopAuth, config: CliConfig, print: Print): Promise<boolean> {
  if (!config.apiUrl) throw new UsageError('Missing --api-url (or LATCHKEY_CLI_API_URL).');
  if (!(await auth.restore())) {
    print(`Not signed in. Run: ${CLI_NAME} login`);
    return false;
  }
  const response = await fetch(new URL('/private', config.apiUrl), { headers: { authorization: `Bearer ${await auth.getAccessToken()}` } });
  print(`${response.status} ${await response.text()}`);
  return response.ok;
}

export async function logout(auth: DesktopAuth, print: Print): Promise<string | undefined> {
  const { logoutUrl, revoked } = await auth.logout();
  print(
    revoked ? 'Signed out; the refresh token is revoked.' : 'Signed out locally (the server could not be reached to revoke the token).',
  );
  if (logoutUrl) print(`To end the browser session too, open: ${logoutUrl}`);
  return logoutUrl;
}
