/**
 * `@latchkey/desktop/electron-preload`: the renderer's half of the Electron bridge, for a preload
 * script (bundled as CommonJS for sandboxed windows). Structural types: pass `contextBridge` and
 * `ipcRenderer` from 'electron'. It exposes five functions and nothing else: no ipcRenderer, no
 * channel of the renderer's choosing.
 */
import { type AuthBridge, type BridgeResult, AUTH_BRIDGE_CHANNELS as CHANNELS } from './electron-channels.js';

export {
  AUTH_BRIDGE_CHANNELS,
  type AuthBridge,
  type BridgeFailure,
  type BridgeLoginOptions,
  type BridgeResult,
  type BridgeTokenOptions,
} from './electron-channels.js';

export interface ContextBridgeLike {
  exposeInMainWorld(key: string, api: unknown): void;
}

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/**
 * The rejection a renderer sees: `code` as in the SDK's error table; the message starts with it too
 * (contextBridge keeps only messages).
 */
export class AuthBridgeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'AuthBridgeError';
  }
}

export function createAuthBridge(ipcRenderer: IpcRendererLike): AuthBridge {
  const call = async <T>(channel: string, ...args: unknown[]): Promise<T> => {
    const result = (await ipcRenderer.invoke(channel, ...args)) as BridgeResult<T>;
    if (!result.ok) throw new AuthBridgeError(result.error.code, result.error.message);
    return result.value;
  };
  return {
    login: (options) => call(CHANNELS.login, options),
    logout: () => call(CHANNELS.logout),
    getAccessToken: (options) => call(CHANNELS.getAccessToken, options),
    getProfile: () => call(CHANNELS.getProfile),
    onStatus(listener) {
      const handler = (_event: unknown, status: unknown) => listener(status as never);
      ipcRenderer.on(CHANNELS.status, handler);
      void call(CHANNELS.subscribe).catch(() => undefined);
      return () => void ipcRenderer.removeListener(CHANNELS.status, handler);
    },
  };
}

/** In the preload script: `exposeAuthBridge(contextBridge, ipcRenderer)` → `window.latchkey`. */
export function exposeAuthBridge(contextBridge: ContextBridgeLike, ipcRenderer: IpcRendererLike, key = 'latchkey'): void {
  contextBridge.exposeInMainWorld(key, createAuthBridge(ipcRenderer));
}
