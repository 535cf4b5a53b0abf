import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertStrictPage } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient } from './helpers/tenant.js';

/**
 * /v2/logout never answers 5xx, whatever the app puts in the query it may add to an allowed
 * returnTo: what a Location header cannot carry is percent-encoded, and control characters or
 * overlong URLs are refused with 400.
 */
let server: TestServer;
let clientId: string;
const allowed = 'https://app.example.com';
const unicodeHost = 'https://例え.jp/bye';

before(async () => {
  server = await startTestServer();
  clientId = (
    await createAppClient(server, {
      name: 'Web App',
      app_type: 'regular_web',
      callbacks: ['https://app.example.com/callback'],
      allowed_logout_urls: [allowed, unicodeHost],
    })
  ).client_id;
});
after(() => server?.close());

/** The raw query is written by hand: URLSearchParams would encode what this test wants sent as is. */
function logout(rawReturnTo: string, path = '/v2/logout'): Promise<Response> {
  return fetch(`${server.issuer}${path.slice(1)}?client_id=${clientId}&returnTo=${rawReturnTo}`, { redirect: 'manual' });
}

describe('/v2/logout returnTo with odd characters in its query', () => {
  test('non-Latin-1, Latin-1 and spaces are percent-encoded as UTF-8 in the redirect', async () => {
    const cases: Array<[string, string]> = [
      [`${allowed}?${encodeURIComponent('€')}`, `${allowed}?%E2%82%AC`],
      [`${allowed}?x=${encodeURIComponent('é ü')}`, `${allowed}?x=%C3%A9%20%C3%BC`],
      [`${allowed}?q=${encodeURIComponent('😀')}&ok=1`, `${allowed}?q=%F0%9F%98%80&ok=1`],
      // Already-encoded and reserved characters are passed on exactly.
      [`${allowed}?${encodeURIComponent('a=%20&b=/?:@')}`, `${allowed}?a=%20&b=/?:@`],
    ];
    for (const [returnTo, location] of cases) {
      const response = await logout(encodeURIComponent(decodeURIComponent(returnTo)));
      assert.equal(response.status, 302, returnTo);
      assert.equal(response.headers.get('location'), location);
      assert.equal(new URL(response.headers.get('location')!).origin, allowed);
    }
  });

  test('a registered URL with a Unicode host redirects to a URL browsers read as that host', async () => {
    const response = await logout(encodeURIComponent(`${unicodeHost}?from=ü`));
    assert.equal(response.status, 302);
    const location = response.headers.get('location')!;
    assert.match(location, /^[\x21-\x7e]+$/);
    const url = new URL(location);
    assert.equal(url.hostname, new URL(unicodeHost).hostname);
    assert.equal(url.searchParams.get('from'), 'ü');
  });

  test('control characters (newline, carriage return, tab, NUL, DEL) are refused with 400, no redirect', async () => {
    for (const control of ['\n', '\r\nSet-Cookie: x=1', '\t', '\u0001', '\u007f']) {
      const response = await logout(encodeURIComponent(`${allowed}?a=${control}`));
      assert.equal(response.status, 400, JSON.stringify(control));
      assert.equal(response.headers.get('location'), null);
      assert.equal(response.headers.get('set-cookie')?.includes('x=1') ?? false, false);
      const body = await response.text();
      assertStrictPage(response, body);
      assert.match(body, /must not contain control characters/);
    }
    // NUL is refused before any route, by the server-wide input rule.
    const nul = await logout(encodeURIComponent(`${allowed}?a=\u0000`));
    assert.equal(nul.status, 400);
    assert.equal(nul.headers.get('location'), null);
  });

  test('a very long returnTo is refused with 400, not dropped', async () => {
    for (const length of [5000, 9000]) {
      const response = await logout(encodeURIComponent(`${allowed}?${'a'.repeat(length)}`));
      assert.equal(response.status, 400, String(length));
      assert.equal(response.headers.get('location'), null);
      assert.match(await response.text(), /too long/);
    }
  });

  test('/oidc/logout with a Unicode-host post_logout_redirect_uri and a non-ASCII state redirects without 5xx', async () => {
    const response = await fetch(
      `${server.issuer}oidc/logout?` +
        `${new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: unicodeHost, state: 'é€\u2028' })}`,
      { redirect: 'manual' },
    );
    assert.equal(response.status, 302);
    const url = new URL(response.headers.get('location')!);
    assert.equal(url.hostname, new URL(unicodeHost).hostname);
    assert.equal(url.searchParams.get('state'), 'é€\u2028');
    const refused = await fetch(
      `${server.issuer}oidc/logout?${new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: `${allowed}\n` })}`,
      {
        redirect: 'manual',
      },
    );
    assert.equal(refused.status, 400);
  });
});
