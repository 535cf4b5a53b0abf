// Compiled to CommonJS (preload.cjs): sandboxed preload scripts cannot be ES modules.
import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, type ProfileView, type RendererAuthApi, type StatusView } from './ipc.js';

/** The renderer gets these calls and nothing else: no tokens, no ipcRenderer. */
const api: RendererAuthApi = {
  login: () => ipcRenderer.invoke(CHANNELS.login) as Promise<ProfileView>,
  logout: () => ipcRenderer.invoke(CHANNELS.logout) as Promise<void>,
  getProfile: () => ipcRenderer.invoke(CHANNELS.profile) as Promise<ProfileView | null>,
  getPrivateMessage: () => ipcRenderer.invoke(CHANNELS.privateMessage) as Promise<string>,
  onStatus(listener) {
    const handler = (_event: unknown, status: StatusView) => listener(status);
    ipcRenderer.on(CHANNELS.status, handler);
    return () => void ipcRenderer.removeListener(CHANNELS.status, handler);
  },
};

contextBridge.exposeInMainWorld('auth', api);
