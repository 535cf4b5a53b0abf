import type { IpcMainInvokeEventLike, IpcMainLike, WebContentsLike } from '../../src/adapters/electron.js';

/**
 * Electron's IPC as far as the bridge sees it: ipcMain, one window's webContents with its frames,
 * ipcRenderer and contextBridge. Every value crossing between the processes is structured-cloned,
 * as Electron does, and logged as JSON so the test can search it for tokens.
 */
export function fakeElectron() {
  const handlers = new Map<string, (event: IpcMainInvokeEventLike, ...args: unknown[]) => unknown>();
  const rendererListeners = new Map<string, Set<(event: unknown, ...args: unknown[]) => void>>();
  const crossed: string[] = [];
  const exposed = new Map<string, unknown>();
  const mainFrame = { url: 'file:///app/index.html' };
  const sender: WebContentsLike = {
    mainFrame,
    send(channel, ...args) {
      crossed.push(JSON.stringify([channel, ...args]));
      for (const listener of rendererListeners.get(channel) ?? []) listener({}, ...structuredClone(args));
    },
    once: () => undefined,
  };
  const ipcMain: IpcMainLike = {
    handle: (channel, listener) => void handlers.set(channel, listener),
    removeHandler: (channel) => void handlers.delete(channel),
  };
  const invokeFrom =
    (frame: unknown) =>
    async (channel: string, ...args: unknown[]) => {
      crossed.push(JSON.stringify([channel, ...args]));
      const handler = handlers.get(channel);
      if (!handler) throw new Error(`No handler registered for '${channel}'`);
      const result = await handler({ sender, senderFrame: frame }, ...structuredClone(args));
      crossed.push(JSON.stringify(result));
      return structuredClone(result);
    };
  const ipcRenderer = {
    invoke: invokeFrom(mainFrame),
    on: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) => {
      if (!rendererListeners.has(channel)) rendererListeners.set(channel, new Set());
      rendererListeners.get(channel)!.add(listener);
    },
    removeListener: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) =>
      void rendererListeners.get(channel)?.delete(listener),
  };
  const contextBridge = { exposeInMainWorld: (key: string, api: unknown) => void exposed.set(key, api) };
  return { ipcMain, ipcRenderer, contextBridge, exposed, crossed, handlers, iframeInvoke: invokeFrom({ url: 'https://ads.example/' }) };
}
