import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTauriAuth } from '../../../examples/tauri/src/auth.js';
import type { TauriInvoke } from '../src/adapters/tauri.js';
import { parseSession } from '../src/session.js';
import { API, callApi, createNativeApp, EMAIL, type Latchkey, newContext, signInAtLoginPage, startLatchkey } from './helpers/latchkey.js';

const REDIRECT_URI = 'com.example.latchkey-tauri:/callback';

let latchkey: Latchkey;

before(async () => {
  latchkey = await startLatchkey();
});

after(async () => {
  await latchkey?.close();
});

/** The Rust side of the README: three commands over a keychain, here a Map. */
function rustKeychain() {
  const items = new Map<string, string>();
  const calls: string[] = [];
  const invoke: TauriInvoke = async <T>(command: string, args?: Record<string, unknown>) => {
    calls.push(command);
    if (command === 'token_load') return (items.get('session') ?? null) as T;
    if (command === 'token_save') return void items.set('session', String(args?.value)) as T;
    if (command === 'token_clear') return void items.delete('session') as T;
    throw new Error(`unknown command ${command}`);
  };
  return { items, calls, invoke };
}

/** @tauri-apps/plugin-deep-link as the OS drives it: handlers get the URLs the app was opened with. */
function deepLinkPlugin(startedWith: string[] | null = null) {
  const handlers = new Set<(urls: string[]) => void>();
  return {
    onOpenUrl: async (handler: (urls: string[]) => void) => {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    getCurrent: async () => startedWith,
    open: (url: string) => handlers.forEach((handler) => handler([url])),
    listeners: () => handlers.size,
  };
}

test("Tauri example's JS: opener plugin to the browser, deep-link plugin back to handleRedirect, token in the Rust keychain", async () => {
  const clientId = (await createNativeApp(latchkey.server, [REDIRECT_URI])).client_id;
  const config = { issuer: latchkey.server.issuer, clientId, audience: API, redirectUri: REDIRECT_URI };
  const keychain = rustKeychain();
  // A deep link the app was started with before any login: nothing waits for it, so it is ignored.
  const deepLink = deepLinkPlugin([`${REDIRECT_URI}?code=stale&state=stale`]);
  const { context, page } = await newContext(latchkey.browser);
  const { auth, stopListening } = await createTauriAuth(config, {
    openUrl: async (url) => void (await page.goto(url)),
    deepLink,
    invoke: keychain.invoke,
  });
  assert.equal(deepLink.listeners(), 1);

  const redirect = page.waitForResponse((response) => response.url().endsWith('/u/login') && response.status() === 302);
  const loggingIn = auth.login();
  await signInAtLoginPage(page);
  deepLink.open((await redirect).headers().location!);
  assert.equal((await loggingIn).email, EMAIL);
  assert.equal((await callApi(latchkey.apiUrl, await auth.getAccessToken())).status, 200);
  assert.ok(
    parseSession(keychain.items.get('session') ?? null, latchkey.server.issuer, clientId)?.refreshToken,
    'the refresh token went to the Rust side',
  );
  stopListening();
  assert.equal(deepLink.listeners(), 0);
  await context.close();

  // Next launch: silent sign-in from the keychain.
  const relaunched = await createTauriAuth(config, { openUrl: async () => {}, deepLink: deepLinkPlugin(), invoke: keychain.invoke });
  assert.equal((await relaunched.auth.restore())?.email, EMAIL);
  assert.equal((await relaunched.auth.logout()).revoked, true);
  assert.equal(keychain.items.size, 0);
  assert.deepEqual([...new Set(keychain.calls)].sort(), ['token_clear', 'token_load', 'token_save']);
});
