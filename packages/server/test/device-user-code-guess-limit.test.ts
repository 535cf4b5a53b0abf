import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { USER_CODE_GUESSES } from '../src/oauth/device.js';
import { Browser, formFields } from './helpers/http-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

/**
 * User codes are short enough to guess, so every page that takes one counts wrong codes per address,
 * before checking, in one shared counter: a burst of parallel guesses gets exactly the limit checked.
 */
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

let server: TestServer;
let clientId: string;

before(async () => {
  server = await startTestServer();
  clientId = (await createNativeApp(server, [], { name: 'Build Agent', grant_types: [DEVICE_GRANT] })).client_id;
});
after(() => server?.close());

/** Well-formed codes that were never issued (the chance of hitting a live one is nil). */
const wrongCode = (i: number) => `BBBB-${ALPHABET[i % 20]}${ALPHABET[Math.floor(i / 20) % 20]}BB`;

test('parallel wrong codes on /activate/confirm: exactly the limit gets checked, then every code page answers 429', async () => {
  const started = (await (
    await fetch(`${server.issuer}oauth/device/code`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: clientId, scope: 'openid' }),
    })
  ).json()) as { user_code: string };
  const limit = USER_CODE_GUESSES.maxFailures;
  const burst = limit + 30;

  const statuses = await Promise.all(
    Array.from({ length: burst }, (_, i) => fetch(`${server.issuer}activate/confirm?user_code=${wrongCode(i)}`).then((r) => r.status)),
  );
  assert.equal(statuses.filter((s) => s === 400).length, limit, 'wrong codes checked');
  assert.equal(statuses.filter((s) => s === 429).length, burst - limit, 'refused unchecked');

  // The lock holds for the right code too, on every page that takes a code.
  const right = await fetch(`${server.issuer}activate/confirm?user_code=${started.user_code}`);
  assert.equal(right.status, 429);
  assert.ok(Number(right.headers.get('retry-after')) > 0);
  const browser = new Browser(server.issuer);
  const csrf = async () => formFields(await (await browser.get('/activate')).text()).csrf!;
  assert.equal((await browser.postForm('/activate', { csrf: await csrf(), user_code: started.user_code })).status, 429);
  assert.equal(
    (await browser.postForm('/activate/confirm', { csrf: await csrf(), user_code: started.user_code, action: 'confirm' })).status,
    429,
  );
});
