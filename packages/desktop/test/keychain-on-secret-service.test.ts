import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { keychainStore, loopbackRedirect, secretToolStore } from '../src/adapters/node.js';
import { DesktopAuth, KeychainUnavailable, memoryStore } from '../src/index.js';
import { createNativeApp, directRefresh, type Latchkey, newContext, signInAtLoginPage, startLatchkey } from './helpers/latchkey.js';

const DESKTOP = fileURLToPath(new URL('..', import.meta.url));
const hasGnomeKeyring = spawnSync('sh', ['-c', 'command -v gnome-keyring-daemon']).status === 0;
const skip = hasGnomeKeyring
  ? false
  : 'gnome-keyring-daemon is not installed (apt install gnome-keyring libsecret-tools dbus-x11): no Secret Service to test against';

/** Node with the SDK's sources, as the other tests run it. */
const NODE = [process.execPath, '--conditions=latchkey-source', '--import', 'tsx'];
const envWithoutBus = () => {
  const env = { ...process.env };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  return env;
};

let latchkey: Latchkey;

before(async () => {
  if (!skip) latchkey = await startLatchkey();
});

after(async () => {
  await latchkey?.close();
});

test('on a real Secret Service (gnome-keyring in dbus-run-session): store, silent restore with rotation, logout clears the item', {
  skip,
}, async (t) => {
  // Sign in here (Chromium), then hand the stored session to a process that has a keyring.
  const clientId = (await createNativeApp(latchkey.server, ['http://127.0.0.1/callback'])).client_id;
  const captured = memoryStore();
  const { context, page } = await newContext(latchkey.browser);
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId,
    redirect: loopbackRedirect(),
    openUrl: (url) => page.goto(url),
    store: captured,
  });
  await Promise.all([auth.login(), signInAtLoginPage(page)]);
  await context.close();
  const sessionValue = (await captured.load())!;

  const script =
    'echo -n test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && ' +
    `exec ${NODE.map((a) => `'${a}'`).join(' ')} test/fixtures/keychain-restore.ts`;
  // A keyring of its own (XDG_DATA_HOME), created and unlocked with the test's password.
  const keyringHome = mkdtempSync(join(tmpdir(), 'latchkey-keyring-'));
  t.after(() => rmSync(keyringHome, { recursive: true, force: true }));
  // Asynchronous: the child talks to the latchkey running in this process.
  const { stdout } = await promisify(execFile)('dbus-run-session', ['--', 'sh', '-c', script], {
    cwd: DESKTOP,
    env: {
      ...envWithoutBus(),
      XDG_DATA_HOME: keyringHome,
      ISSUER: latchkey.server.issuer,
      CLIENT_ID: clientId,
      SESSION_VALUE: sessionValue,
    },
    encoding: 'utf8',
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.equal(result.roundTrip, true);
  assert.equal(result.inSecretService, true, 'secret-tool reads the value back from gnome-keyring');
  assert.equal(result.probeLeftSessionAlone, true, 'the pre-login probe works on a real keyring and leaves the session alone');
  assert.equal(result.restoredName, 'Ada Lovelace', 'restore() signed in silently from the keyring');
  assert.equal(result.rotatedInKeyring, true, 'the rotated refresh token replaced the old one in the keyring');
  assert.equal(result.revoked, true);
  assert.equal(result.clearedFromKeyring, true);
  const refused = await directRefresh(latchkey.server, clientId, result.rotatedToken);
  assert.equal(refused.body.error, 'invalid_grant', 'logout revoked the token at the server');
  assert.deepEqual(
    result.napi,
    { readBySecretTool: true, readBack: true, cleared: true },
    '@napi-rs/keyring (the default store) on the same Secret Service',
  );
});

test('without a session bus (headless Linux) every keychain path fails with KeychainUnavailable, saying what to do', { skip }, async () => {
  const { stdout } = await promisify(execFile)(NODE[0]!, [...NODE.slice(1), 'test/fixtures/keychain-unavailable.ts'], {
    cwd: DESKTOP,
    env: envWithoutBus(),
    encoding: 'utf8',
  });
  const result = JSON.parse(stdout.trim());
  for (const [operation, outcome] of Object.entries<{ name: string; code: string; message: string }>(result)) {
    assert.equal(outcome.code, 'keychain_unavailable', `${operation}: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.name, 'KeychainUnavailable');
    assert.match(outcome.message, /DBUS_SESSION_BUS_ADDRESS.*dbus-run-session.*encryptedFileStore/s, operation);
  }
});

test('the keychain stores refuse in-process too, with the environment injected', async () => {
  const item = { service: 'latchkey-desktop-test', account: 'x' };
  await assert.rejects(secretToolStore(item, {}).load(), KeychainUnavailable);
  await assert.rejects(keychainStore(item, { platform: 'linux', env: {} }).save('secret'), KeychainUnavailable);
});
