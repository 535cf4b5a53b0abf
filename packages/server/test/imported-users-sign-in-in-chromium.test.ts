/**
 * Users brought in by a bulk import job, with a bcrypt hash, a pbkdf2 `custom_password_hash` and a
 * salted sha256 one, each sign in with their old password on the hosted login page in Chromium.
 */
import assert from 'node:assert/strict';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hash } from '@node-rs/bcrypt';
import type { Browser } from 'playwright-core';
import { launchChromium, newContext, submitLogin } from './helpers/chromium.js';
import { pkcePair } from './helpers/http-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

let server: TestServer;
let browser: Browser;
let clientId: string;

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'])).client_id;
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function importUsers(users: unknown[]): Promise<Record<string, any>> {
  const connectionId = (await server.management('GET', '/connections?name=Username-Password-Authentication')).body[0].id;
  const form = new FormData();
  form.append('users', new Blob([JSON.stringify(users)], { type: 'application/json' }), 'users.json');
  form.append('connection_id', connectionId);
  const response = await fetch(`${server.issuer}api/v2/jobs/users-imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await server.managementToken()}` },
    body: form,
  });
  const created = (await response.json()) as Record<string, any>;
  assert.equal(response.status, 201, JSON.stringify(created));
  for (let i = 0; i < 300; i++) {
    const { body } = await server.management('GET', `/jobs/${created.id}`);
    if (body.status === 'completed' || body.status === 'failed') return body;
    await sleep(100);
  }
  assert.fail('the import did not finish');
}

test('bcrypt, pbkdf2 and salted sha256 users imported by a job sign in on the hosted login page', async () => {
  const salt = randomBytes(16);
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  const users = [
    { email: 'bcrypt@chromium.example', password_hash: await hash('Bcrypt-pass-1', { cost: 4 }) },
    {
      email: 'pbkdf2@chromium.example',
      custom_password_hash: {
        algorithm: 'pbkdf2',
        hash: {
          value: `$pbkdf2-sha256$i=10000,l=32$${b64(salt)}$${b64(pbkdf2Sync('Pbkdf2-pass-1', salt, 10000, 32, 'sha256'))}`,
          encoding: 'utf8',
        },
      },
    },
    {
      email: 'sha256@chromium.example',
      custom_password_hash: {
        algorithm: 'sha256',
        hash: { value: createHash('sha256').update('pepper:Sha256-pass-1').digest('base64'), encoding: 'base64' },
        salt: { value: 'pepper:', position: 'prefix' },
      },
    },
  ];
  const job = await importUsers(users);
  assert.equal(job.status, 'completed');
  assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 3, total: 3 });

  for (const [email, password] of [
    ['bcrypt@chromium.example', 'Bcrypt-pass-1'],
    ['pbkdf2@chromium.example', 'Pbkdf2-pass-1'],
    ['sha256@chromium.example', 'Sha256-pass-1'],
  ] as const) {
    const { context, page, problems } = await newContext(browser);
    try {
      // The app's redirect URI has nothing listening: the browser's arrival there is the result.
      await page.route('http://127.0.0.1:4000/**', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' }));
      const url = new URL(`${server.issuer}authorize`);
      for (const [key, value] of Object.entries({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: 'http://127.0.0.1:4000/callback',
        scope: 'openid',
        state: email,
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }))
        url.searchParams.set(key, value);
      await page.goto(url.href);
      await submitLogin(page, email, password);
      await page.waitForURL(/^http:\/\/127\.0\.0\.1:4000\/callback/);
      const back = new URL(page.url());
      assert.ok(back.searchParams.get('code'), `${email} got a code`);
      assert.equal(back.searchParams.get('state'), email);
      assert.deepEqual(problems, []);
      const stored = await server.ctx.storage.users.findByEmail('Username-Password-Authentication', email);
      assert.match(stored!.passwordHash!, /^\$argon2id\$/, 'the imported hash is replaced at the first sign-in');
    } finally {
      await context.close();
    }
  }
});
