import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { avatarInitials } from '../src/domain/default-picture.js';
import { Browser } from './helpers/http-login.js';
import { authorizationCode, claimsOf, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * Users without a picture get one, as in Auth0: an initials avatar served by latchkey itself
 * (no third party), or, with LATCHKEY_DEFAULT_PICTURE=gravatar, Gravatar falling back to it.
 */
const callback = 'http://127.0.0.1/callback';
const redirectUri = 'http://127.0.0.1:50330/callback';

async function signInTokens(server: TestServer, clientId: string, email: string) {
  const { code, verifier } = await authorizationCode(
    server,
    new Browser(server.issuer),
    { client_id: clientId, redirect_uri: redirectUri },
    { email, password: TEST_PASSWORD },
  );
  const tokens = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    code_verifier: verifier,
    redirect_uri: redirectUri,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return tokens.body as { access_token: string; id_token: string };
}

describe('initials', () => {
  test('first and last word, or two letters of one; diacritics folded; nothing but a-z', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ name: 'Ada Lovelace' }, 'al'],
      [{ name: 'Ada King Lovelace' }, 'al'],
      [{ given_name: 'Élodie', family_name: 'Durand', name: 'x' }, 'ed'],
      [{ name: 'ada@example.test', email: 'ada@example.test' }, 'ad'],
      [{ email: 'grace.hopper@example.test', name: 'grace.hopper@example.test' }, 'gh'],
      [{ name: '<script>alert(1)</script>' }, 'sc'],
      [{ name: '"><svg onload=x>' }, 'so'],
      [{ name: '张伟', email: '张伟@example.test' }, ''],
      [{ name: '🙂' }, ''],
      [{}, ''],
    ];
    for (const [user, initials] of cases) {
      const found = avatarInitials(user);
      assert.equal(found, initials, JSON.stringify(user));
      assert.match(found, /^[a-z]{0,2}$/);
    }
  });
});

describe('default picture: initials avatar', () => {
  let server: TestServer;
  let clientId: string;
  before(async () => {
    server = await startTestServer();
    clientId = (await createNativeApp(server, [callback])).client_id;
  });
  after(() => server?.close());

  test('a new user gets the avatar URL in the Management API, the id_token and /userinfo; an own picture is kept', async () => {
    const created = await createUser(server, 'ada@example.test', { name: 'Ada Lovelace' });
    const expected = `${server.issuer}avatars/al.svg`;
    assert.equal(created.picture, expected);
    assert.equal((await server.management('GET', `/users/${encodeURIComponent(created.user_id)}`)).body.picture, expected);
    const listed = (await server.management('GET', '/users')).body as Array<Record<string, string>>;
    assert.equal(listed.find((u) => u.user_id === created.user_id)?.picture, expected);

    const tokens = await signInTokens(server, clientId, 'ada@example.test');
    assert.equal(claimsOf(tokens.id_token).picture, expected);
    const userinfo = await fetch(`${server.issuer}userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(((await userinfo.json()) as Record<string, string>).picture, expected);

    const own = await createUser(server, 'own@example.test', { picture: 'https://pictures.example.test/own.png' });
    assert.equal(own.picture, 'https://pictures.example.test/own.png');
    // Signed up through the API without a name: initials from the email.
    const signup = await fetch(`${server.issuer}dbconnections/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: clientId,
        connection: 'Username-Password-Authentication',
        email: 'zoe.q@example.test',
        password: TEST_PASSWORD,
      }),
    });
    const id = `auth0|${((await signup.json()) as { _id: string })._id}`;
    assert.equal((await server.management('GET', `/users/${encodeURIComponent(id)}`)).body.picture, `${server.issuer}avatars/zq.svg`);
  });

  test('the avatar is a small SVG with strict headers, cacheable, and only for names from a restricted set', async () => {
    for (const [file, text] of [
      ['al.svg', '>AL</text>'],
      ['z.svg', '>Z</text>'],
      ['default.svg', '<circle'],
    ] as const) {
      const response = await fetch(`${server.issuer}avatars/${file}`);
      assert.equal(response.status, 200, file);
      assert.equal(response.headers.get('content-type'), 'image/svg+xml');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; sandbox");
      assert.match(response.headers.get('cache-control')!, /^public, max-age=\d+$/);
      const svg = await response.text();
      assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^<>]*>.*<\/svg>$/);
      assert.ok(svg.includes(text), svg);
      assert.doesNotMatch(svg, /<script|on\w+=|href|<style|<foreignObject/i);
    }
    const colour = async (file: string) =>
      /<rect [^>]*fill="(#[0-9a-f]{6})"/.exec(await (await fetch(`${server.issuer}avatars/${file}`)).text())![1];
    assert.equal(await colour('al.svg'), await colour('al.svg'));
    for (const file of [
      'AL.svg',
      'abc.svg',
      '%3Cscript%3E.svg',
      '%C3%A9.svg',
      'al.png',
      'al',
      '..%2Fal.svg',
      'a1.svg',
      '.svg',
      'al.svg%00',
    ]) {
      const response = await fetch(`${server.issuer}avatars/${file}`);
      assert.ok(response.status === 404 || response.status === 400, `${file}: ${response.status}`);
      assert.notEqual(response.headers.get('content-type'), 'image/svg+xml');
    }
  });

  test('script-ish and non-Latin names get a safe avatar URL', async () => {
    const scripty = await createUser(server, 'xss@example.test', { name: '<img src=x onerror=alert(1)>' });
    assert.equal(scripty.picture, `${server.issuer}avatars/io.svg`);
    const cjk = await createUser(server, 'cjk@example.test', { name: '张伟', nickname: '伟' });
    assert.equal(cjk.picture, `${server.issuer}avatars/cj.svg`);
    const nothing = await createUser(server, '_@example.test', { name: '🙂' });
    assert.equal(nothing.picture, `${server.issuer}avatars/default.svg`);
    assert.equal((await fetch(nothing.picture)).status, 200);
  });
});

describe('default picture: Gravatar', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { defaultPicture: 'gravatar' } });
  });
  after(() => server?.close());

  test("the URL is Gravatar's, with the md5 of the lowercased email and d= the latchkey avatar", async () => {
    const created = await createUser(server, 'Ada.Lovelace@Example.test', { name: 'Ada Lovelace' });
    const md5 = createHash('md5').update('ada.lovelace@example.test').digest('hex');
    const url = new URL(created.picture);
    assert.equal(`${url.origin}${url.pathname}`, `https://s.gravatar.com/avatar/${md5}`);
    assert.equal(url.searchParams.get('d'), `${server.issuer}avatars/al.svg`);
    assert.equal((await server.management('GET', `/users/${encodeURIComponent(created.user_id)}`)).body.picture, created.picture);
  });
});
