import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loopbackRedirect } from '../src/adapters/node.js';
import { AccessDenied, type AuthStatus, DesktopAuth, deepLinkRedirect, LoginCancelled, LoginTimeout, StateMismatch } from '../src/index.js';
import { countingFetch } from './helpers/counting-fetch.js';
import { API, createNativeApp, type Latchkey, startLatchkey } from './helpers/latchkey.js';

let latchkey: Latchkey;
let loopbackClient: string;
let deepLinkClient: string;
const REDIRECT_URI = 'com.example.desktop:/callback';

before(async () => {
  latchkey = await startLatchkey();
  loopbackClient = (await createNativeApp(latchkey.server, ['http://127.0.0.1/callback'])).client_id;
  deepLinkClient = (await createNativeApp(latchkey.server, [REDIRECT_URI])).client_id;
});

after(async () => {
  await latchkey?.close();
});

/** A loopback login whose "browser" only records the URL; the test decides what happens next. */
function loopbackAuth(onOpen: (url: URL) => unknown = () => {}) {
  const counting = countingFetch();
  const opened: URL[] = [];
  const statuses: AuthStatus[] = [];
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId: loopbackClient,
    audience: API,
    redirect: loopbackRedirect(),
    fetch: counting.fetch,
    openUrl: (url) => {
      opened.push(new URL(url));
      return onOpen(new URL(url));
    },
  });
  auth.on('status', (status) => statuses.push(status));
  const redirectUri = () => opened.at(-1)!.searchParams.get('redirect_uri')!;
  return { auth, counting, opened, statuses, redirectUri };
}

const portClosed = (url: string) =>
  assert.rejects(
    fetch(url),
    (error: Error) => error instanceof TypeError && /ECONNREFUSED/.test(String((error.cause as Error)?.message ?? error.cause)),
  );

test('cancellation: aborting the signal rejects with LoginCancelled and closes the loopback listener', async () => {
  const controller = new AbortController();
  const { auth, redirectUri, statuses } = loopbackAuth(() => controller.abort());
  await assert.rejects(
    auth.login({ signal: controller.signal }),
    (error: unknown) => error instanceof LoginCancelled && error.code === 'login_cancelled',
  );
  await portClosed(redirectUri());
  assert.deepEqual(statuses, ['signing-in', 'signed-out']);
  await assert.rejects(auth.login({ signal: AbortSignal.abort() }), LoginCancelled, 'an already aborted signal never opens the browser');
});

test('timeout: no callback in time rejects with LoginTimeout and closes the listener', async () => {
  const { auth, redirectUri } = loopbackAuth();
  await assert.rejects(auth.login({ timeoutMs: 200 }), (error: unknown) => error instanceof LoginTimeout && error.code === 'login_timeout');
  await portClosed(redirectUri());
});

test('a newer login() cancels one still waiting (the user closed that tab and clicked again)', async () => {
  const { auth } = loopbackAuth();
  const first = auth.login();
  const firstRejected = assert.rejects(first, LoginCancelled);
  const second = auth.login({ timeoutMs: 200 });
  await firstRejected;
  await assert.rejects(second, LoginTimeout);
});

test('a forged state on the loopback listener is refused: the code in it is never redeemed', async () => {
  let page: { status: number; text: string } | undefined;
  const { auth, counting, redirectUri } = loopbackAuth(async (url) => {
    // Another local process, or a web page, hits the listener with a code of its choosing.
    const response = await fetch(`${url.searchParams.get('redirect_uri')}?code=attacker-code&state=forged`);
    page = { status: response.status, text: await response.text() };
  });
  await assert.rejects(auth.login(), (error: unknown) => error instanceof StateMismatch && error.code === 'state_mismatch');
  assert.equal(counting.grants('authorization_code'), 0);
  assert.equal(page?.status, 400);
  assert.match(page!.text, /Sign-in failed.*state mismatch/s);
  await portClosed(redirectUri());
  assert.equal(auth.status, 'signed-out');
});

test('the loopback listener answers only its own path and Host (no DNS rebinding), and keeps waiting', async () => {
  const { auth } = loopbackAuth(async (url) => {
    const base = new URL(url.searchParams.get('redirect_uri')!);
    assert.equal((await fetch(new URL('/favicon.ico', base))).status, 404);
    const rebound = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) =>
        request(
          { host: base.hostname, port: base.port, path: `${base.pathname}?code=c&state=s`, headers: { host: `evil.example:${base.port}` } },
          (res) => resolve(res.statusCode!),
        )
          .on('error', reject)
          .end(),
      );
    });
    assert.equal(rebound, 400);
    // The sign-in is still waiting: an error from the server now reaches it normally.
    const state = url.searchParams.get('state');
    await fetch(
      `${base.href}?error=access_denied&error_description=User%20did%20not%20authorize` +
        `&state=${state}&iss=${encodeURIComponent(latchkey.server.issuer)}`,
    );
  });
  await assert.rejects(
    auth.login(),
    (error: unknown) => error instanceof AccessDenied && error.errorDescription === 'User did not authorize',
  );
});

test('a forged state through handleRedirect() is refused likewise', async () => {
  const counting = countingFetch();
  let opened!: (url: URL) => void;
  const browserOpened = new Promise<URL>((resolve) => (opened = resolve));
  const auth = new DesktopAuth({
    issuer: latchkey.server.issuer,
    clientId: deepLinkClient,
    redirect: deepLinkRedirect(REDIRECT_URI),
    fetch: counting.fetch,
    openUrl: (url) => opened(new URL(url)),
  });
  const loggingIn = auth.login();
  const authorizeUrl = await browserOpened;
  assert.equal(auth.handleRedirect(`${REDIRECT_URI}?code=attacker-code&state=forged`), true);
  await assert.rejects(loggingIn, StateMismatch);
  assert.equal(counting.grants('authorization_code'), 0);
  assert.equal(auth.handleRedirect(`${REDIRECT_URI}?code=c&state=${authorizeUrl.searchParams.get('state')}`), false, 'that login is over');
});
