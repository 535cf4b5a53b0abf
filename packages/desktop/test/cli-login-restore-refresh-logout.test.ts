import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encryptedFileStore, passphraseCipher } from '../src/adapters/node.js';
import { DesktopAuth } from '../src/index.js';
import { parseSession } from '../src/session.js';
import { runCli } from './helpers/cli-process.js';
import { countingFetch } from './helpers/counting-fetch.js';
import {
  ACCESS_TOKEN_LIFETIME,
  API,
  callApi,
  createNativeApp,
  directRefresh,
  EMAIL,
  type Latchkey,
  newContext,
  signInAtLoginPage,
  startLatchkey,
} from './helpers/latchkey.js';

const PASSPHRASE = 'correct horse battery staple';

let latchkey: Latchkey;
let clientId: string;
let dir: string;
let env: Record<string, string>;

before(async () => {
  latchkey = await startLatchkey();
  clientId = (await createNativeApp(latchkey.server, ['http://127.0.0.1/callback'])).client_id;
  dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  env = {
    LATCHKEY_CLI_ISSUER: latchkey.server.issuer,
    LATCHKEY_CLI_CLIENT_ID: clientId,
    LATCHKEY_CLI_AUDIENCE: API,
    LATCHKEY_CLI_API_URL: latchkey.apiUrl,
    LATCHKEY_CLI_STORE: 'file',
    LATCHKEY_CLI_STORE_PATH: join(dir, 'session.bin'),
    LATCHKEY_CLI_STORE_PASSPHRASE: PASSPHRASE,
  };
});

after(async () => {
  await latchkey?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const storedRefreshToken = async () =>
  parseSession(
    await encryptedFileStore({ path: env.LATCHKEY_CLI_STORE_PATH!, cipher: passphraseCipher(PASSPHRASE) }).load(),
    latchkey.server.issuer,
    clientId,
  )?.refreshToken;

test('CLI example: loopback sign-in in Chromium, calls the API, restarts silently, refreshes once for 10 callers, logs out', async () => {
  // 1. `login`: the CLI prints the URL (--no-browser); Chromium plays the system browser.
  const login = runCli(['login', '--no-browser'], env);
  const url = new URL((await login.line(/^Open this URL to sign in: /)).replace('Open this URL to sign in: ', ''));
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.match(url.searchParams.get('redirect_uri')!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
  const { context, page, problems } = await newContext(latchkey.browser);
  await page.goto(url.href);
  await signInAtLoginPage(page);
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
  assert.match(await page.locator('body').innerText(), /Signed in as Ada Lovelace\. You may close this tab/);
  const loggedIn = await login.exit;
  assert.equal(loggedIn.code, 0, loggedIn.stderr);
  assert.match(loggedIn.stdout, new RegExp(`Signed in as Ada Lovelace <${EMAIL}>`));
  assert.deepEqual(problems, []);
  await context.close();

  // The listener lived only for the login: its port is closed now.
  await assert.rejects(fetch(url.searchParams.get('redirect_uri')!), TypeError);
  // Stored encrypted, owner-only; the refresh token is nowhere in the file in clear.
  const firstRefreshToken = await storedRefreshToken();
  assert.ok(firstRefreshToken);
  assert.equal(statSync(env.LATCHKEY_CLI_STORE_PATH!).mode & 0o777, 0o600);
  assert.ok(!readFileSync(env.LATCHKEY_CLI_STORE_PATH!).includes(firstRefreshToken));

  // 2. `call-api` and `whoami` in new processes: silent sign-in from the stored refresh token.
  const called = await runCli(['call-api'], env).exit;
  assert.equal(called.code, 0, called.stderr);
  assert.match(called.stdout, /^200 \{"message":"Your access token was successfully validated!","sub":"auth0\|[0-9a-f]{24}"\}/m);
  const who = await runCli(['whoami'], env).exit;
  assert.equal(who.code, 0, who.stderr);
  assert.match(who.stdout, new RegExp(`^Ada Lovelace <${EMAIL}> \\(auth0\\|[0-9a-f]{24}\\)$`, 'm'));

  // 3. A new SDK instance on the same store; its clock moves past the access token's expiry.
  const counting = countingFetch();
  let skewMs = 0;
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId,
    audience: API,
    store: encryptedFileStore({ path: env.LATCHKEY_CLI_STORE_PATH!, cipher: passphraseCipher(PASSPHRASE) }),
    fetch: counting.fetch,
    now: () => Date.now() + skewMs,
  });
  const restored = await auth.restore();
  assert.equal(restored?.email, EMAIL);
  assert.equal(auth.status, 'signed-in');
  assert.ok(await auth.getAccessToken());
  assert.equal(counting.grants('refresh_token'), 1, 'restore() redeemed the stored refresh token once; the cached token is reused');
  const stored = await storedRefreshToken();

  skewMs = (ACCESS_TOKEN_LIFETIME + 120) * 1000;
  const tokens = await Promise.all(Array.from({ length: 10 }, () => auth.getAccessToken()));
  assert.equal(counting.grants('refresh_token'), 2, 'ten concurrent callers share exactly one refresh request');
  assert.equal(new Set(tokens).size, 1);
  assert.equal((await callApi(latchkey.apiUrl, tokens[0]!)).status, 200);
  const rotated = await storedRefreshToken();
  assert.ok(rotated && rotated !== stored, 'the rotated refresh token is what storage holds now');

  // 4. `logout`: revokes at the server and clears the store; the token no longer works anywhere.
  const loggedOut = await runCli(['logout', '--no-browser'], env).exit;
  assert.equal(loggedOut.code, 0, loggedOut.stderr);
  assert.match(loggedOut.stdout, /Signed out; the refresh token is revoked\./);
  // latchkey publishes an end_session_endpoint: the browser logout is RP-initiated. This process never
  // restored the session, so it holds no id_token to send as hint; client_id names the app instead.
  assert.match(loggedOut.stdout, new RegExp(`open: ${latchkey.server.issuer}oidc/logout\\?client_id=${clientId}$`, 'm'));
  assert.equal(existsSync(env.LATCHKEY_CLI_STORE_PATH!), false);
  const refused = await directRefresh(latchkey.server, clientId, rotated);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error, 'invalid_grant');
  const whoAfter = await runCli(['whoami'], env).exit;
  assert.equal(whoAfter.code, 1);
  assert.match(whoAfter.stdout, /Not signed in/);
});
