// Compiled to CommonJS (preload.cjs): sandboxed preload scripts cannot be ES modules.
import { contextBridge, ipcRenderer } from 'electron';
import { exposeRendererApis } from './preload-api.js';

exposeRendererApis(contextBridge, ipcRenderer);
