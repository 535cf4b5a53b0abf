import type { DesktopAuth } from '@latchkey/desktop';
import { type IpcMainLike, registerAuthBridge } from '@latchkey/desktop/electron';
import { PRIVATE_MESSAGE_CHANNEL } from './ipc.js';

export interface MainProcessOptions {
  ipcMain: IpcMainLike;
  auth: DesktopAuth;
  /** Where the example API runs (GET /private). */
  apiUrl: string;
  /** shell.openExternal in Electron: the logout URL ends the browser's session too. */
  openExternal: (url: string) => Promise<void>;
  /** Where the provider returns the browser after logout (must be an Allowed Logout URL). */
  logoutReturnTo?: string;
  fetch?: typeof fetch;
}

/**
 * Everything the main process does for the window, without Electron imports, so it runs (and is
 * tested) in plain Node: the SDK's bridge for sign-in, and the example's own "Get Private Message"
 * channel, which calls the API from main so that even the access token stays here.
 */
export function wireMainProcess(options: MainProcessOptions) {
  const { auth, ipcMain } = options;
  const fetchImpl = options.fetch ?? fetch;
  const removeBridge = registerAuthBridge(ipcMain, auth, {
    openExternal: options.openExternal,
    ...(options.logoutReturnTo ? { logoutReturnTo: options.logoutReturnTo } : {}),
  });
  ipcMain.handle(PRIVATE_MESSAGE_CHANNEL, async () => {
    const response = await fetchImpl(new URL('/private', options.apiUrl), {
      headers: { authorization: `Bearer ${await auth.getAccessToken()}` },
    });
    const body = (await response.json()) as { message?: string; error?: string };
    if (!response.ok) throw new Error(`The API answered ${response.status}: ${body.error ?? ''}`);
    return body.message ?? '';
  });
  return {
    /** Silent sign-in at start-up from the refresh token in the keychain; the window learns it by its status event. */
    start: () => auth.restore().catch(() => undefined),
    dispose() {
      removeBridge();
      ipcMain.removeHandler(PRIVATE_MESSAGE_CHANNEL);
      auth.dispose();
    },
  };
}
