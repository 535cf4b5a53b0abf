import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, newContext } from '../../server/test/helpers/chromium.js';
import { loopbackRedirect } from '../src/adapters/node.js';
import { type AuthStatus, DesktopAuth, memoryStore, type Timers, type TokenStore } from '../src/index.js';
import { parseSession, serialiseSession } from '../src/session.js';
import { FAKE_CLIENT, FAKE_ISSUER, fakeIssuer } from './helpers/fake-issuer.js';
import { OP_CLIENT_ID, type PlainProvider, signInAtPlainProvider, startPlainProvider } from './helpers/oidc-provider.js';

/** Timers the test fires by hand: nothing runs until it says so. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 0;
  const timers: Timers = {
    setTimeout(callback, ms) {
      pending.set(++next, { callback, ms });
      return next;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  return {
    timers,
    /** The delay of the one armed timer. */
    armed(): number {
      assert.equal(pending.size, 1, 'exactly one background timer is armed');
      return [...pending.values()][0]!.ms;
    },
    /** Runs the armed timer and waits for what it started to settle: the next timer armed, or (after a sign-out) none for 1 s. */
    async fire(): Promise<void> {
      const [handle, timer] = [...pending.entries()][0]!;
      pending.delete(handle);
      timer.callback();
      for (let i = 0; i < 100 && pending.size === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    },
  };
}

async function seeded(): Promise<TokenStore> {
  const store = memoryStore();
  await store.save(serialiseSession({ v: 1, issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, refreshToken: 'rt-0' }));
  return store;
}

/** The fake issuer answering refreshes with tokens minted at the test's clock. */
async function issuerAt(clock: () => number) {
  const issuer = await fakeIssuer();
  let round = 0;
  issuer.onToken(() => {
    round += 1;
    return {
      status: 200,
      body: { access_token: `at-${round}`, token_type: 'Bearer', expires_in: 3600, refresh_token: `rt-${round}`, id_token: '' },
    };
  });
  const fetchImpl: typeof issuer.fetch = async (input, init) => {
    const response = await issuer.fetch(input, init);
    if (!String(input).endsWith('/oauth/token') || response.status !== 200) return response;
    const body = (await response.json()) as Record<string, unknown>;
    const now = Math.floor(clock() / 1000);
    body.id_token = await issuer.idToken({ iat: now, exp: now + 3600 });
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { issuer, fetch: fetchImpl, refreshes: () => issuer.tokenRequests().length };
}

test('refresh before expiry, jittered, by the wall clock not a timer alone: a machine waking from sleep refreshes at once', async () => {
  let clock = Date.parse('2026-01-01T09:00:00Z');
  const { fetch, refreshes } = await issuerAt(() => clock);
  const start = clock;
  const make = async (random: number) => {
    const manual = manualTimers();
    const auth = new DesktopAuth({
      issuer: FAKE_ISSUER,
      clientId: FAKE_CLIENT,
      store: await seeded(),
      fetch,
      now: () => clock,
      random: () => random,
      timers: manual.timers,
      backgroundRefresh: { aheadSeconds: 300, jitterSeconds: 60, checkEverySeconds: 30 },
    });
    await auth.restore();
    return { auth, manual };
  };
  const early = await make(1); // due 360 s before expiry
  const late = await make(0); // due 300 s before expiry
  assert.equal(refreshes(), 2, 'one restore each');
  assert.equal(early.manual.armed(), 30_000, 'the timer never sleeps longer than checkEverySeconds');

  // Half a minute on: nothing is due, nobody refreshes, the timer is re-armed.
  clock += 30_000;
  await early.manual.fire();
  assert.equal(refreshes(), 2);
  assert.equal(early.manual.armed(), 30_000);

  // 330 s before expiry: inside the jitter window of one instance only.
  clock = start + (3600 - 330) * 1000;
  await early.manual.fire();
  await late.manual.fire();
  assert.equal(refreshes(), 3, 'the instance with the larger jitter refreshed, the other one not yet');
  assert.equal(await early.auth.getAccessToken(), 'at-3', 'and its refreshed token is the one handed out');

  // The machine slept for two hours: no timer ran, the wall clock jumped past the expiry. The first
  // wake after resume refreshes; getAccessToken() then needs no request of its own.
  clock += 2 * 3600 * 1000;
  await late.manual.fire();
  assert.equal(refreshes(), 4);
  assert.equal(late.auth.status, 'signed-in');
  const before = refreshes();
  assert.equal(await late.auth.getAccessToken(), 'at-4');
  assert.equal(refreshes(), before);
  early.auth.dispose();
  late.auth.dispose();
});

test('a refresh token refused in the background signs out and stops the timer', async () => {
  let clock = Date.parse('2026-01-01T09:00:00Z');
  const { issuer, fetch } = await issuerAt(() => clock);
  const manual = manualTimers();
  const store = await seeded();
  const auth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    store,
    fetch,
    now: () => clock,
    random: () => 0,
    timers: manual.timers,
    backgroundRefresh: true,
  });
  await auth.restore();
  issuer.onToken(() => ({ status: 403, body: { error: 'invalid_grant' } }));
  clock += 3600 * 1000;
  await manual.fire();
  assert.equal(auth.status, 'signed-out');
  assert.equal(await store.load(), null);
  assert.throws(() => manual.armed(), /exactly one/);
});

test('dispose() while a refresh is in flight: the refresh completes but arms no timer, nor does any later one', async () => {
  const clock = Date.parse('2026-01-01T09:00:00Z');
  const { fetch } = await issuerAt(() => clock);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let gated = false;
  const slowFetch: typeof fetch = async (input, init) => {
    if (gated && String(input).endsWith('/oauth/token')) await gate;
    return fetch(input, init);
  };
  const manual = manualTimers();
  const auth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    store: await seeded(),
    fetch: slowFetch,
    now: () => clock,
    random: () => 0,
    timers: manual.timers,
    backgroundRefresh: true,
  });
  await auth.restore();
  gated = true;
  const refreshing = auth.getAccessToken({ forceRefresh: true });
  await new Promise((resolve) => setTimeout(resolve, 20));
  auth.dispose();
  assert.throws(() => manual.armed(), /exactly one/, 'dispose() stopped the timer');
  release();
  assert.equal(await refreshing, 'at-2');
  assert.throws(() => manual.armed(), /exactly one/, 'the refresh that was in flight did not re-arm it');
  assert.equal(await auth.getAccessToken({ forceRefresh: true }), 'at-3');
  assert.throws(() => manual.armed(), /exactly one/, 'nor did a later one');
});

let browser: Browser;
let provider: PlainProvider;

before(async () => {
  browser = await launchChromium();
  provider = await startPlainProvider();
});

after(async () => {
  await provider?.close();
  await browser?.close();
});

test('provider outage (server stopped, restarted): offline, backoff retries, cached token served, no logout; then signed-in', async () => {
  let offsetMs = 0;
  const manual = manualTimers();
  const store = memoryStore();
  const statuses: AuthStatus[] = [];
  const { context, page } = await newContext(browser);
  const auth = new DesktopAuth({
    issuer: provider.issuer,
    clientId: OP_CLIENT_ID,
    redirect: loopbackRedirect(),
    openUrl: (url) => page.goto(url),
    store,
    now: () => Date.now() + offsetMs,
    random: () => 0.5,
    timers: manual.timers,
    backgroundRefresh: { aheadSeconds: 300, jitterSeconds: 0 },
  });
  auth.on('status', (status) => statuses.push(status));
  await Promise.all([auth.login({ prompt: 'consent' }), signInAtPlainProvider(page)]);
  await context.close();
  const accessToken = await auth.getAccessToken();
  const storedBefore = parseSession(await store.load(), auth.issuer, OP_CLIENT_ID)!.refreshToken;

  await provider.stop();
  // oidc-provider's access tokens live an hour: 250 s before expiry the refresh is due.
  offsetMs = (3600 - 250) * 1000;
  await manual.fire();
  assert.equal(auth.status, 'offline');
  assert.equal(auth.getProfile()?.sub, 'grace', 'the session is kept');
  assert.equal(await auth.getAccessToken(), accessToken, 'the cached token is still valid and still served');
  assert.equal(parseSession(await store.load(), auth.issuer, OP_CLIENT_ID)?.refreshToken, storedBefore, 'the stored refresh token is kept');

  // Retries back off: 5 s, then 10 s (times 0.75 with this random).
  assert.equal(manual.armed(), 3750);
  offsetMs += 3750;
  await manual.fire();
  assert.equal(auth.status, 'offline');
  assert.equal(manual.armed(), 7500);

  await provider.start();
  offsetMs += 7500;
  await manual.fire();
  assert.equal(auth.status, 'signed-in');
  const refreshed = await auth.getAccessToken();
  assert.notEqual(refreshed, accessToken);
  assert.notEqual(parseSession(await store.load(), auth.issuer, OP_CLIENT_ID)?.refreshToken, storedBefore, 'the rotated token is stored');
  const userinfo = await fetch(`${provider.issuer}/me`, { headers: { authorization: `Bearer ${refreshed}` } });
  assert.equal(((await userinfo.json()) as { sub: string }).sub, 'grace');
  assert.deepEqual(statuses, ['signing-in', 'signed-in', 'offline', 'signed-in'], 'never signed-out');
  auth.dispose();
});

test('background refresh settings that would spin (0 or NaN seconds between wakes or retries) are refused when the client is made', () => {
  for (const settings of [
    { checkEverySeconds: 0 },
    { maxRetrySeconds: 0 },
    { checkEverySeconds: Number.NaN },
    { jitterSeconds: -1 },
    { aheadSeconds: Number.POSITIVE_INFINITY },
  ]) {
    assert.throws(
      () => new DesktopAuth({ issuer: FAKE_ISSUER, clientId: FAKE_CLIENT, backgroundRefresh: settings }),
      (error: unknown) => error instanceof TypeError && error.message.includes(`backgroundRefresh.${Object.keys(settings)[0]}`),
      JSON.stringify(settings),
    );
  }
  assert.doesNotThrow(
    () =>
      new DesktopAuth({
        issuer: FAKE_ISSUER,
        clientId: FAKE_CLIENT,
        backgroundRefresh: { checkEverySeconds: 1, maxRetrySeconds: 1, jitterSeconds: 0, aheadSeconds: 0 },
      }),
  );
});
