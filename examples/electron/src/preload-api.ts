import { type ContextBridgeLike, exposeAuthBridge, type IpcRendererLike } from '@latchkey/desktop/electron-preload';
import { type ExampleApi, PRIVATE_MESSAGE_CHANNEL } from './ipc.js';

/**
 * What the preload gives the window, without Electron imports so it runs in Node tests:
 * `window.latchkey` (the SDK's bridge: login, logout, getAccessToken, getProfile, onStatus) and
 * `window.exampleApi`. No ipcRenderer, no token but access tokens.
 */
export function exposeRendererApis(contextBridge: ContextBridgeLike, ipcRenderer: IpcRendererLike): void {
  exposeAuthBridge(contextBridge, ipcRenderer);
  const exampleApi: ExampleApi = { getPrivateMessage: () => ipcRenderer.invoke(PRIVATE_MESSAGE_CHANNEL) as Promise<string> };
  contextBridge.exposeInMainWorld('exampleApi', exampleApi);
}
