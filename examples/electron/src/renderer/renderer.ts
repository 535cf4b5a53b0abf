import type { AuthBridge } from '@latchkey/desktop/electron-preload';
import type { ExampleApi } from '../ipc.js';

declare global {
  interface Window {
    latchkey: AuthBridge;
    exampleApi: ExampleApi;
  }
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const signedIn = byId<HTMLElement>('signed-in');
const signedOut = byId<HTMLElement>('signed-out');
const message = byId<HTMLElement>('message');

async function render(): Promise<void> {
  const profile = await window.latchkey.getProfile();
  signedIn.hidden = !profile;
  signedOut.hidden = !!profile;
  if (!profile) return;
  byId<HTMLElement>('name').textContent = String(profile.name ?? profile.email ?? profile.sub);
  const picture = byId<HTMLImageElement>('picture');
  picture.hidden = typeof profile.picture !== 'string';
  if (typeof profile.picture === 'string') picture.src = profile.picture;
}

async function run(action: () => Promise<unknown>): Promise<void> {
  message.textContent = '';
  try {
    await action();
  } catch (error) {
    message.textContent = (error as Error).message;
  }
}

byId('login').addEventListener('click', () => run(() => window.latchkey.login()));
byId('logout').addEventListener('click', () => run(() => window.latchkey.logout()));
byId('private').addEventListener('click', () =>
  run(async () => {
    message.textContent = await window.exampleApi.getPrivateMessage();
  }),
);
const STATUS_TEXT = {
  'signing-in': 'Finish signing in in your browser…',
  offline: 'Offline: reconnecting…',
  'signed-in': '',
  'signed-out': '',
} as const;
window.latchkey.onStatus((status) => {
  byId('status').textContent = STATUS_TEXT[status];
  void render();
});
