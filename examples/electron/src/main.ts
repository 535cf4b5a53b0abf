import { join } from 'node:path';
import { DesktopAuth, deepLinkRedirect, type TokenStore } from '@latchkey/desktop';
import { forwardDeepLinks, safeStorageCipher } from '@latchkey/desktop/electron';
import { encryptedFileStore, keychainStore, loopbackRedirect } from '@latchkey/desktop/node';
import { app, BrowserWindow, ipcMain, safeStorage, shell } from 'electron';
import { wireMainProcess } from './auth-service.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
const scheme = new URL(config.customSchemeRedirectUri).protocol.slice(0, -1);

// Windows and Linux deliver a custom-scheme URL by starting a second instance: keep one.
if (!app.requestSingleInstanceLock()) app.quit();
if (config.redirect === 'custom-scheme') app.setAsDefaultProtocolClient(scheme);

function tokenStore(): TokenStore {
  if (config.store === 'safe-storage') {
    return encryptedFileStore({ path: join(app.getPath('userData'), 'session.bin'), cipher: safeStorageCipher(safeStorage) });
  }
  return keychainStore({ service: 'latchkey-electron-example', account: config.clientId });
}

const auth = new DesktopAuth({
  ...(config.issuer ? { issuer: config.issuer } : { domain: config.domain! }),
  clientId: config.clientId,
  audience: config.audience,
  // The system browser, never a BrowserWindow: Google and others block embedded sign-in (RFC 8252 §8.12).
  openUrl: (url) => shell.openExternal(url),
  redirect: config.redirect === 'custom-scheme' ? deepLinkRedirect(config.customSchemeRedirectUri) : loopbackRedirect(),
  store: tokenStore(),
  // A window stays open for hours: refresh ahead of expiry, ride out outages, catch up after sleep.
  backgroundRefresh: true,
});
forwardDeepLinks(app, auth);

// window.latchkey (login, logout, getAccessToken, getProfile, onStatus) and the example's own channel.
const main = wireMainProcess({ ipcMain, auth, apiUrl: config.apiUrl, openExternal: (url) => shell.openExternal(url) });

async function createWindow(): Promise<void> {
  const window = new BrowserWindow({
    width: 800,
    height: 600,
    webPreferences: { preload: join(import.meta.dirname, 'preload.cjs'), contextIsolation: true, sandbox: true, nodeIntegration: false },
  });
  // The preload (window.latchkey) stays with the window wherever it goes: keep it on the app's own
  // page, so no remote page ever gets the bridge (Electron security checklist: limit navigation).
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  await window.loadFile(join(import.meta.dirname, 'renderer', 'index.html'));
}

app.whenReady().then(async () => {
  await main.start();
  await createWindow();
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
