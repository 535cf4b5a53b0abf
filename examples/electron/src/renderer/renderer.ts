import type { ProfileView, RendererAuthApi } from '../ipc.js';

declare global {
  interface Window {
    auth: RendererAuthApi;
  }
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const signedIn = byId<HTMLElement>('signed-in');
const signedOut = byId<HTMLElement>('signed-out');
const message = byId<HTMLElement>('message');

function show(profile: ProfileView | null): void {
  signedIn.hidden = !profile;
  signedOut.hidden = !!profile;
  if (!profile) return;
  byId<HTMLElement>('name').textContent = profile.name;
  const picture = byId<HTMLImageElement>('picture');
  picture.hidden = !profile.picture;
  if (profile.picture) picture.src = profile.picture;
}

async function run(action: () => Promise<unknown>): Promise<void> {
  message.textContent = '';
  try {
    await action();
  } catch (error) {
    message.textContent = (error as Error).message;
  }
}

byId('login').addEventListener('click', () => run(async () => show(await window.auth.login())));
byId('logout').addEventListener('click', () =>
  run(async () => {
    await window.auth.logout();
    show(null);
  }),
);
byId('private').addEventListener('click', () =>
  run(async () => {
    message.textContent = await window.auth.getPrivateMessage();
  }),
);
window.auth.onStatus((status) => {
  byId('status').textContent = status === 'signing-in' ? 'Finish signing in in your browser…' : '';
});
void window.auth.getProfile().then(show);
