import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { encryptedFileStore, keychainStore, loopbackRedirect, passphraseCipher } from '../src/adapters/node.js';
import {
  DesktopAuth,
  DiscoveryFailed,
  KeychainUnavailable,
  memoryStore,
  RedirectUnavailable,
  StorageFailed,
  type TokenStore,
} from '../src/index.js';
import { FAKE_CLIENT, FAKE_ISSUER, fakeIssuer } from './helpers/fake-issuer.js';

/** A login whose "browser" records whether it was ever opened. */
async function attempt(options: { store?: TokenStore; redirect?: ReturnType<typeof loopbackRedirect>; fetch?: typeof fetch }) {
  const issuer = await fakeIssuer();
  const opened: string[] = [];
  const auth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    fetch: options.fetch ?? issuer.fetch,
    redirect: options.redirect ?? loopbackRedirect(),
    openUrl: (url) => void opened.push(url),
    ...(options.store ? { store: options.store } : {}),
  });
  return { auth, opened, issuer };
}

test('no keychain: login() and the device flow fail with KeychainUnavailable before the browser opens or a code is requested', async () => {
  const store = keychainStore({ service: 'latchkey-desktop-test', account: 'probe' }, { platform: 'linux', env: {} });
  const { auth, opened, issuer } = await attempt({ store });
  await assert.rejects(auth.login(), KeychainUnavailable);
  assert.deepEqual(opened, [], 'the user was never sent to sign in');
  assert.equal(auth.status, 'signed-out');
  const prompts: unknown[] = [];
  await assert.rejects(auth.loginWithDeviceCode({ onPrompt: (prompt) => void prompts.push(prompt) }), KeychainUnavailable);
  assert.deepEqual(prompts, []);
  assert.equal(issuer.requests.filter((r) => r.url.endsWith('/oauth/device/code')).length, 0);
});

test('a file store that cannot be written (a file where its directory should be) fails before the browser', async () => {
  const store = encryptedFileStore({ path: '/dev/null/session.bin', cipher: passphraseCipher('a long enough passphrase', 1000) });
  const { auth, opened } = await attempt({ store });
  await assert.rejects(auth.login(), StorageFailed);
  assert.deepEqual(opened, []);
});

test('a loopback port that is taken fails with RedirectUnavailable before the browser', async () => {
  const blocker = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => blocker.once('listening', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const { auth, opened } = await attempt({ redirect: loopbackRedirect({ port }) });
    await assert.rejects(
      auth.login(),
      (error: unknown) =>
        error instanceof RedirectUnavailable && error.code === 'redirect_unavailable' && /port is in use/.test(error.message),
    );
    assert.deepEqual(opened, []);
  } finally {
    blocker.close();
  }
});

test('an unreachable issuer fails with DiscoveryFailed before the browser', async () => {
  const { auth, opened } = await attempt({ fetch: async () => Promise.reject(new TypeError('fetch failed')) });
  await assert.rejects(auth.login(), DiscoveryFailed);
  assert.deepEqual(opened, []);
});

test('preflight() probes the store without touching the stored session', async () => {
  const store = memoryStore();
  await store.save('the stored session');
  const { auth } = await attempt({ store });
  await auth.preflight();
  assert.equal(await store.load(), 'the stored session');
});
