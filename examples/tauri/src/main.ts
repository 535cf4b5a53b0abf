import { invoke } from '@tauri-apps/api/core';
import { getCurrent, onOpenUrl } from '@tauri-apps/plugin-deep-link';
import { openUrl } from '@tauri-apps/plugin-opener';
import { createTauriAuth } from './auth.js';

// Vite-style build-time configuration; see README.
const config = {
  issuer: import.meta.env.VITE_LATCHKEY_ISSUER,
  clientId: import.meta.env.VITE_CLIENT_ID,
  audience: import.meta.env.VITE_AUDIENCE,
  redirectUri: 'com.example.latchkey-tauri:/callback',
};
const apiUrl = import.meta.env.VITE_API_URL;

const { auth } = await createTauriAuth(config, { openUrl: (url) => openUrl(url), deepLink: { onOpenUrl, getCurrent }, invoke });

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function render(): void {
  const user = auth.getProfile();
  byId('signed-in').hidden = !user;
  byId('signed-out').hidden = !!user;
  byId('name').textContent = user ? String(user.name ?? user.sub) : '';
  const picture = byId<HTMLImageElement>('picture');
  picture.hidden = typeof user?.picture !== 'string';
  if (typeof user?.picture === 'string') picture.src = user.picture;
}

async function run(action: () => Promise<unknown>): Promise<void> {
  byId('message').textContent = '';
  try {
    await action();
  } catch (error) {
    byId('message').textContent = (error as Error).message;
  }
  render();
}

auth.on('status', (status) => {
  byId('status').textContent =
    status === 'signing-in' ? 'Finish signing in in your browser…' : status === 'offline' ? 'Offline: reconnecting…' : '';
});
byId('login').addEventListener('click', () => run(() => auth.login()));
byId('logout').addEventListener('click', () =>
  run(async () => {
    const { logoutUrl } = await auth.logout();
    if (logoutUrl) await openUrl(logoutUrl);
  }),
);
byId('private').addEventListener('click', () =>
  run(async () => {
    const response = await fetch(`${apiUrl}/private`, { headers: { authorization: `Bearer ${await auth.getAccessToken()}` } });
    byId('message').textContent = ((await response.json()) as { message?: string; error?: string }).message ?? `Error ${response.status}`;
  }),
);
await run(() => auth.restore());
