import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { AccessDenied, DesktopAuth, type DeviceCodePrompt, memoryStore } from '../src/index.js';
import { runCli } from './helpers/cli-process.js';
import { API, callApi, createNativeApp, EMAIL, type Latchkey, newContext, signInAtLoginPage, startLatchkey } from './helpers/latchkey.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let latchkey: Latchkey;
let clientId: string;

before(async () => {
  latchkey = await startLatchkey();
  clientId = (await createNativeApp(latchkey.server, [], { grant_types: [DEVICE_GRANT, 'refresh_token'] })).client_id;
});

after(async () => {
  await latchkey?.close();
});

/**
 * The SDK waits what the server asks (recorded); the test's clock only shortens the real wait,
 * so the server sees fast polls and answers slow_down, which the SDK must honour.
 */
function recordingSleep() {
  const waits: number[] = [];
  const sleep = (ms: number, signal: AbortSignal) => {
    waits.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      setTimeout(resolve, 50);
    });
  };
  return { waits, sleep };
}

/** The user on another device: opens the verification URL, signs in, and confirms or cancels. */
async function approveInBrowser(page: Page, prompt: DeviceCodePrompt, action: 'Confirm' | 'Cancel'): Promise<string> {
  await page.goto(prompt.verificationUriComplete!);
  assert.equal(await page.getByLabel('Code').inputValue(), prompt.userCode, 'the complete URI fills the code in');
  await page.getByRole('button', { name: 'Continue' }).click();
  await signInAtLoginPage(page);
  await page.getByRole('button', { name: action }).click();
  return page.locator('h1').innerText();
}

test('device flow: the code is shown, approved in Chromium, polled with interval and slow_down, and the tokens work', async () => {
  const { context, page, problems } = await newContext(latchkey.browser);
  const { waits, sleep } = recordingSleep();
  const store = memoryStore();
  const auth = new DesktopAuth({ issuer: latchkey.server.issuer, clientId, audience: API, store, sleep });
  let approved: Promise<string> | undefined;
  const prompts: DeviceCodePrompt[] = [];
  const user = await auth.loginWithDeviceCode({
    onPrompt: (prompt) => {
      prompts.push(prompt);
      approved = approveInBrowser(page, prompt, 'Confirm');
    },
  });
  assert.equal(await approved, 'Device connected');
  assert.equal(user.email, EMAIL);
  assert.match(prompts[0]!.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
  assert.equal(prompts[0]!.verificationUri, `${latchkey.server.issuer}activate`);
  assert.equal(prompts[0]!.expiresIn, 900);
  assert.equal(waits[0], 5000, "the server's interval");
  assert.ok(
    waits.some((ms) => ms >= 10_000),
    `slow_down answers added 5 s each: ${waits.join(' ')}`,
  );
  assert.equal((await callApi(latchkey.apiUrl, await auth.getAccessToken())).status, 200);
  assert.ok(await store.load(), 'offline_access: the refresh token is stored for restore()');
  assert.deepEqual(problems, []);
  await context.close();
});

test('device flow: cancelling on the confirmation page ends the SDK with AccessDenied', async () => {
  const { context, page } = await newContext(latchkey.browser);
  const { sleep } = recordingSleep();
  const auth = new DesktopAuth({ issuer: latchkey.server.issuer, clientId, audience: API, sleep });
  let declined: Promise<string> | undefined;
  await assert.rejects(
    auth.loginWithDeviceCode({
      onPrompt: (prompt) => {
        declined = approveInBrowser(page, prompt, 'Cancel');
      },
    }),
    AccessDenied,
  );
  assert.equal(await declined, 'Request cancelled');
  assert.equal(auth.status, 'signed-out');
  await context.close();
});

test('the CLI example with --device prints the code and URL, finishes once approved, and whoami restores', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-device-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    LATCHKEY_CLI_ISSUER: latchkey.server.issuer,
    LATCHKEY_CLI_CLIENT_ID: clientId,
    LATCHKEY_CLI_AUDIENCE: API,
    LATCHKEY_CLI_STORE: 'file',
    LATCHKEY_CLI_STORE_PATH: join(dir, 'session.bin'),
    LATCHKEY_CLI_STORE_PASSPHRASE: 'device flow passphrase',
  };
  const { context, page } = await newContext(latchkey.browser);
  const cli = runCli(['login', '--device'], env);
  const line = await cli.line(/^To sign in, visit /);
  const [, verificationUri, userCode] = /^To sign in, visit (\S+) and enter the code (\S+)$/.exec(line)!;
  assert.equal(verificationUri, `${latchkey.server.issuer}activate`);
  // Typed by hand this time, as someone reading it off an SSH session would.
  await page.goto(verificationUri!);
  await page.getByLabel('Code').fill(userCode!);
  await page.getByRole('button', { name: 'Continue' }).click();
  await signInAtLoginPage(page);
  await page.getByRole('button', { name: 'Confirm' }).click();
  const result = await cli.exit;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`Signed in as Ada Lovelace <${EMAIL}>`));
  const who = await runCli(['whoami'], env).exit;
  assert.match(who.stdout, new RegExp(`^Ada Lovelace <${EMAIL}>`, 'm'));
  await context.close();
});
