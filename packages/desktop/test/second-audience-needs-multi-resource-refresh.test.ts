import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loopbackRedirect } from '../src/adapters/node.js';
import { AudienceNotGranted, DesktopAuth, memoryStore } from '../src/index.js';
import { parseSession } from '../src/session.js';
import { countingFetch } from './helpers/counting-fetch.js';
import { API, callApi, createNativeApp, type Latchkey, newContext, signInAtLoginPage, startLatchkey } from './helpers/latchkey.js';

let latchkey: Latchkey;

before(async () => {
  latchkey = await startLatchkey();
});

after(async () => {
  await latchkey?.close();
});

test('a token for another API from one refresh token: refused as AudienceNotGranted when the server ignores the audience', async () => {
  const clientId = (await createNativeApp(latchkey.server, ['http://127.0.0.1/callback'])).client_id;
  const store = memoryStore();
  const counting = countingFetch();
  const { context, page } = await newContext(latchkey.browser);
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId,
    audience: API,
    redirect: loopbackRedirect(),
    openUrl: (url) => page.goto(url),
    store,
    fetch: counting.fetch,
  });
  await Promise.all([auth.login(), signInAtLoginPage(page)]);
  await context.close();
  const loginToken = parseSession(await store.load(), auth.issuer, clientId)!.refreshToken;

  // latchkey, like Auth0 without multi-resource refresh tokens, answers with a token for the login's API.
  await assert.rejects(
    auth.getAccessToken({ audience: 'https://other-api.example.test/' }),
    (error: unknown) => error instanceof AudienceNotGranted && error.code === 'audience_not_granted',
  );
  assert.equal(counting.grants('refresh_token'), 1);
  const rotated = parseSession(await store.load(), auth.issuer, clientId)!.refreshToken;
  assert.notEqual(rotated, loginToken, 'the refused answer still rotated the refresh token, and the new one was kept');

  // The session is intact: the login's API token still refreshes and works.
  const token = await auth.getAccessToken({ forceRefresh: true });
  assert.equal((await callApi(latchkey.apiUrl, token)).status, 200);
  assert.equal(auth.status, 'signed-in');
});
