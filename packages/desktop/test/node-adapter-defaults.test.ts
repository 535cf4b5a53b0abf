import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openerFor } from '../src/adapters/browser.js';
import { createNodeAuth, loopbackRedirect, openSystemBrowser } from '../src/adapters/node.js';
import { DesktopAuth } from '../src/index.js';

test('issuer from a domain or a URL, always https with a trailing slash; plain http only on loopback', () => {
  assert.equal(createNodeAuth({ domain: 'tenant.eu.auth0.com', clientId: 'c' }).issuer, 'https://tenant.eu.auth0.com/');
  assert.equal(new DesktopAuth({ issuer: 'https://id.example.com', clientId: 'c' }).issuer, 'https://id.example.com/');
  assert.equal(new DesktopAuth({ issuer: 'http://127.0.0.1:8080/', clientId: 'c' }).issuer, 'http://127.0.0.1:8080/');
  assert.throws(() => new DesktopAuth({ issuer: 'http://id.example.com/', clientId: 'c' }), /must use https/);
  assert.throws(() => new DesktopAuth({ clientId: 'c' }), /issuer .* or the domain/);
});

test('the system browser: open on macOS, rundll32 on Windows (no cmd parsing of & and %), xdg-open elsewhere', async () => {
  const url = 'https://id.example.com/authorize?a=1&b=%20';
  assert.deepEqual(openerFor('darwin', url), ['open', [url]]);
  assert.deepEqual(openerFor('win32', url), ['rundll32', ['url.dll,FileProtocolHandler', url]]);
  assert.deepEqual(openerFor('linux', url), ['xdg-open', [url]]);
  await assert.rejects(openSystemBrowser('file:///etc/passwd'), /Refusing to open a file: URL/);
});

test('login() without a redirect strategy or a browser says what is missing', async () => {
  await assert.rejects(
    new DesktopAuth({ issuer: 'https://id.example.com/', clientId: 'c' }).login(),
    /needs the `redirect` and `openUrl` options/,
  );
});

test('the loopback listener binds a loopback literal only: 0.0.0.0 or a LAN address from untyped code is refused', () => {
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'localhost']) {
    assert.throws(() => loopbackRedirect({ host: host as '127.0.0.1' }), /127\.0\.0\.1 or ::1 only/, host);
  }
  assert.doesNotThrow(() => loopbackRedirect({ host: '::1' }));
});
