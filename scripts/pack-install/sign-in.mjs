// Runs inside the temporary project the pack-and-install test creates: everything it imports comes
// from that project's node_modules (the packed tarballs and their dependencies), nothing from the
// repository. It signs a user in as the CLI example does (loopback redirect, PKCE, encrypted file
// store), restores the session in a second instance, logs out, and signs a second user in through
// an upstream provider (which runs the server's profile-script sandbox from the installed package).
// The system browser is played by plain HTTP with a cookie jar, so no browser is needed.
import { DesktopAuth, memoryStore } from '@latchkey/desktop';
import * as electron from '@latchkey/desktop/electron';
import { encryptedFileStore, loopbackRedirect, passphraseCipher } from '@latchkey/desktop/node';
import * as tauri from '@latchkey/desktop/tauri';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`sign-in.mjs needs ${name}`);
  return value;
};
const issuer = env('ISSUER');
const clientId = env('CLIENT_ID');
const audience = env('AUDIENCE');
const email = env('EMAIL');
const password = env('PASSWORD');
const upstreamConnection = env('UPSTREAM_CONNECTION');
const upstreamEmail = env('UPSTREAM_EMAIL');

function check(condition, message) {
  if (!condition) throw new Error(message);
}

check(
  typeof electron.safeStorageCipher === 'function' && typeof electron.forwardDeepLinks === 'function',
  '@latchkey/desktop/electron lacks its exports',
);
check(
  typeof tauri.forwardTauriDeepLinks === 'function' && typeof tauri.invokeStore === 'function',
  '@latchkey/desktop/tauri lacks its exports',
);

/** A user agent that follows redirects one by one, keeps cookies per origin and fills in the login form. */
async function playBrowser(authorizeUrl) {
  const redirectUri = new URL(authorizeUrl).searchParams.get('redirect_uri');
  const jars = new Map();
  const request = async (url, init = {}) => {
    const jar = jars.get(url.origin) ?? new Map();
    jars.set(url.origin, jar);
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      const [name, value] = [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1)];
      if (value === '' || /;\s*max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  };
  let url = new URL(authorizeUrl);
  let init = {};
  for (let step = 0; step < 20; step++) {
    const response = await request(url, init);
    if (url.href.startsWith(`${redirectUri}?`)) {
      check(response.ok, `the app's loopback listener answered ${response.status}`);
      return response.text();
    }
    init = {};
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location'), url);
      continue;
    }
    const page = await response.text();
    if (response.status === 200 && page.includes('action="/u/login"')) {
      const fields = {};
      for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]] = m[2].replace(/&amp;/g, '&');
      url = new URL('/u/login', url);
      init = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, username: email, password }),
      };
      continue;
    }
    const title = /<title>([^<]*)<\/title>/.exec(page)?.[1] ?? page.slice(0, 200);
    throw new Error(`unexpected page at ${url.pathname} (${response.status}): ${title}`);
  }
  throw new Error('too many redirects');
}

/** A DesktopAuth as the CLI example builds it, whose "system browser" is playBrowser(). */
function desktopAuth(store) {
  let opened;
  const urlOpened = new Promise((resolve) => (opened = resolve));
  const auth = new DesktopAuth({
    issuer,
    clientId,
    audience,
    store,
    redirect: loopbackRedirect({ successPage: () => '<!doctype html><title>Signed in</title><p>Signed in.</p>' }),
    openUrl: async (url) => opened(url),
  });
  return { auth, urlOpened };
}

/** login() with the browser played alongside; a failure of the browser cancels the login. */
async function signIn({ auth, urlOpened }, options = {}) {
  const controller = new AbortController();
  const login = auth.login({ ...options, signal: controller.signal });
  const browsing = Promise.race([urlOpened, login.then(() => Promise.reject(new Error('login() ended without opening a URL')))])
    .then(playBrowser)
    .catch((err) => {
      controller.abort();
      throw err;
    });
  const [user, page] = await Promise.all([login, browsing]);
  check(page.includes('Signed in.'), "the app's loopback listener did not show its success page");
  return user;
}

const storePath = env('STORE_PATH');
const fileStore = () => encryptedFileStore({ path: storePath, cipher: passphraseCipher('pack and install') });

// 1. Password sign-in; the access token works at the server.
const first = desktopAuth(fileStore());
const user = await signIn(first);
check(user.email === email, `signed in as ${user.email}, expected ${email}`);
const userinfo = await fetch(`${issuer}userinfo`, { headers: { authorization: `Bearer ${await first.auth.getAccessToken()}` } });
check(userinfo.ok, `/userinfo answered ${userinfo.status} to the SDK's access token`);
check((await userinfo.json()).sub === user.sub, '/userinfo names another user');

// 2. A new instance on the same store signs in silently (refresh grant), then logs out.
const { auth: second } = desktopAuth(fileStore());
check((await second.restore())?.sub === user.sub, 'restore() from the encrypted file store did not sign the user back in');
const { revoked } = await second.logout();
check(revoked, 'logout() did not revoke the refresh token');
check((await desktopAuth(fileStore()).auth.restore()) === undefined, 'still signed in after logout()');

// 3. Through the upstream provider: the profile script runs in the installed server's sandbox.
const upstream = await signIn(desktopAuth(memoryStore()), { connection: upstreamConnection });
check(upstream.email === upstreamEmail, `upstream sign-in gave ${upstream.email}, expected ${upstreamEmail}`);

console.log(`signed in ${user.email} (restored from the store, logged out) and ${upstream.email} through ${upstreamConnection}`);
