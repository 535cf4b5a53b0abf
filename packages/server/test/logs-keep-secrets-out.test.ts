/**
 * What latchkey logs must not hand a log reader a way in: request URLs lose the values of
 * `id_token_hint`, upstream `code`s, `state` (the login transaction id) and the like; error
 * messages quoting such URLs too; and a profile script's console output is logged at debug level,
 * truncated, with token-like values redacted. HSTS is sent whenever the public origin is https.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { runFetchUserProfile } from '../src/connections/sandbox/profile-script.js';
import { upstreamContext } from '../src/http/login/upstream.js';
import { errorForLog, redactUrl } from '../src/logging.js';
import { startTestServer, type TestServer, trustTestCa } from './helpers/server.js';

const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhdXRoMHwxMjMiLCJub25jZSI6Im4ifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLW1vcmU';

/** Collects the server's pino lines as parsed objects. */
function logCapture(): { stream: DestinationStream; lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  return { lines, stream: { write: (chunk: string) => void lines.push(JSON.parse(chunk)) } };
}

describe('request log', () => {
  let server: TestServer;
  const log = logCapture();
  before(async () => {
    server = await startTestServer({ config: { logLevel: 'info' }, logStream: log.stream });
  });
  after(() => server.close());

  test('sensitive query values are replaced; the rest of the URL stays readable', async () => {
    const query = [
      `client_id=app1&state=tx-secret-state&id_token_hint=${JWT}`,
      'code=upstream-code-123',
      'login_hint=ada%40example.com',
      'prompt=none',
    ].join('&');
    await (await fetch(`${server.issuer}authorize?${query}`, { redirect: 'manual' })).arrayBuffer();
    await (await fetch(`${server.issuer}login/callback?code=upstream-code-456&state=tx-2`, { redirect: 'manual' })).arrayBuffer();
    await (
      await fetch(`${server.issuer}oidc/logout?id_token_hint=${JWT}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2F`, {
        redirect: 'manual',
      })
    ).arrayBuffer();
    const logged = log.lines.filter((line) => line.msg === 'request completed').map((line) => String(line.req.url));
    assert.equal(logged.length, 3, JSON.stringify(log.lines));
    assert.equal(
      logged[0],
      '/authorize?client_id=app1&state=[redacted]&id_token_hint=[redacted]&code=[redacted]&login_hint=[redacted]&prompt=none',
    );
    assert.equal(logged[1], '/login/callback?code=[redacted]&state=[redacted]');
    assert.equal(logged[2], '/oidc/logout?id_token_hint=[redacted]&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2F');
    const everything = JSON.stringify(log.lines);
    for (const secret of ['tx-secret-state', 'upstream-code-123', 'upstream-code-456', JWT, 'ada%40example.com']) {
      assert.ok(!everything.includes(secret), `${secret} was logged`);
    }
  });

  test("an export file link's signature is replaced: the link is a bearer credential for the whole file", async () => {
    const signature = 'SIGNATURE-of-a-download-link-0123456789abcdef';
    await (await fetch(`${server.issuer}jobs/files/job_x1.json.gz?expires=9999999999&signature=${signature}`)).arrayBuffer();
    const logged = log.lines.filter((line) => line.msg === 'request completed' && String(line.req.url).startsWith('/jobs/files/'));
    assert.deepEqual(
      logged.map((line) => line.req.url),
      ['/jobs/files/job_x1.json.gz?expires=9999999999&signature=[redacted]'],
    );
    assert.ok(!JSON.stringify(log.lines).includes(signature));
  });

  test('credentials in headers, bodies and ticket links never reach the log', async () => {
    const before = log.lines.length;
    const clientSecret = server.admin.clientSecret;
    const token = await server.managementToken();
    await (
      await fetch(`${server.issuer}userinfo`, { headers: { authorization: `Bearer ${token}`, cookie: 'session=cookie-value-1234' } })
    ).text();
    await (
      await fetch(`${server.issuer}oauth/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${btoa(`${server.admin.clientId}:${clientSecret}`)}`,
        },
        body: new URLSearchParams({ grant_type: 'password', username: 'someone@example.test', password: 'Password-in-a-body-9' }),
      })
    ).text();
    const ticket = 'ticket-value-0123456789';
    await (await fetch(`${server.issuer}lo/reset?ticket=${ticket}#x`)).arrayBuffer();
    const lines = log.lines.slice(before).filter((line) => line.msg === 'request completed');
    assert.ok(lines.length >= 4, JSON.stringify(lines));
    assert.ok(lines.some((line) => line.req.url === '/lo/reset?ticket=[redacted]'));
    const everything = JSON.stringify(log.lines.slice(before));
    for (const secret of [
      clientSecret,
      token,
      'cookie-value-1234',
      'Password-in-a-body-9',
      ticket,
      btoa(`${server.admin.clientId}:${clientSecret}`),
    ]) {
      assert.ok(!everything.includes(secret), `${secret} was logged`);
    }
  });
});

test('URL redaction: names are matched decoded and case-insensitively, values of other parameters kept', () => {
  assert.equal(redactUrl('/cb?Code=1&%73tate=2&codes=3&x=code%3D4'), '/cb?Code=[redacted]&%73tate=[redacted]&codes=3&x=code%3D4');
  assert.equal(redactUrl('/plain/path'), '/plain/path');
  assert.equal(redactUrl('/cb?code'), '/cb?code=[redacted]');
});

test('error logs: URLs quoted in the message and stack lose their secrets', () => {
  const error = new Error('request to https://idp.example.com/token?code=abc123&state=tx9&scope=openid failed');
  const serialized = errorForLog(error);
  assert.equal(serialized.message, 'request to https://idp.example.com/token?code=[redacted]&state=[redacted]&scope=openid failed');
  assert.ok(!String(serialized.stack).includes('abc123'));
});

describe('profile script console', () => {
  const token = 'gho_16C7e42F292c6912E7710c838347Ae178B4a';

  test('is logged at debug level, truncated, with the tokens it prints redacted', async () => {
    const entries: Array<{ message: string; data: Record<string, unknown>; level: string | undefined }> = [];
    const script = `function (accessToken, ctx, cb) {
      console.log('token', accessToken, 'id_token', ctx.id_token);
      console.log('refresh', ctx.refresh_token, 'jwt', '${JWT}', 'hex', '${'ab12'.repeat(12)}');
      console.log('word '.repeat(1000));
      cb(null, { user_id: 1 });
    }`;
    await runFetchUserProfile(
      script,
      token,
      { id_token: JWT, refresh_token: 'short-rt-1234' },
      {
        log: (message, data, level) => entries.push({ message, data, level }),
      },
    );
    const consoleLines = entries.filter((entry) => entry.message === 'profile script console');
    assert.equal(consoleLines.length, 3);
    for (const entry of consoleLines) assert.equal(entry.level, 'debug');
    assert.equal(consoleLines[0]!.data.line, 'token [redacted] id_token [redacted]');
    assert.equal(consoleLines[1]!.data.line, 'refresh [redacted] jwt [redacted] hex [redacted]');
    const long = String(consoleLines[2]!.data.line);
    assert.ok(long.length < 600, `truncated, got ${long.length} characters`);
    assert.match(long, /more characters\)$/);
  });

  test('an error the script calls back with is redacted the same way', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const failed = await runFetchUserProfile(
      `function (accessToken, ctx, cb) { cb(new Error('bad token ' + accessToken)); }`,
      token,
      {},
      {
        log: (_message, data) => logged.push(data),
      },
    ).then(
      () => undefined,
      (err: Error) => err,
    );
    assert.equal(failed?.message, 'the profile script called back with an error: bad token [redacted]');
    assert.ok(!JSON.stringify(logged).includes(token));
  });

  test('reaches the request log at debug level, not warn', async () => {
    const calls: Array<[string, unknown, string]> = [];
    const request = {
      log: {
        warn: (data: unknown, message: string) => calls.push(['warn', data, message]),
        debug: (data: unknown, message: string) => calls.push(['debug', data, message]),
      },
    } as unknown as FastifyRequest;
    const ctx = upstreamContext({ issuer: 'http://x/', storage: {}, secrets: {}, now: Date.now } as never, request);
    ctx.log('profile script console', { line: 'hello' }, 'debug');
    ctx.log('fetchUserProfile failed', { reason: 'timeout' });
    assert.deepEqual(
      calls.map(([level, , message]) => [level, message]),
      [
        ['debug', 'profile script console'],
        ['warn', 'fetchUserProfile failed'],
      ],
    );
  });
});

describe('Strict-Transport-Security', () => {
  test('sent on every response when latchkey serves TLS itself', async () => {
    trustTestCa();
    const server = await startTestServer({ https: true });
    try {
      for (const path of ['.well-known/openid-configuration', 'authorize', 'nothing-here']) {
        const response = await fetch(`${server.issuer}${path}`, { redirect: 'manual' });
        await response.arrayBuffer();
        assert.equal(response.headers.get('strict-transport-security'), 'max-age=31536000', path);
      }
    } finally {
      await server.close();
    }
  });

  test('sent when the issuer is https behind a proxy; never for an http issuer', async () => {
    const behindProxy = await startTestServer({ config: { issuer: 'https://id.example.com' } });
    const plain = await startTestServer();
    try {
      const proxied = await fetch(`${behindProxy.url}/.well-known/jwks.json`);
      assert.equal(proxied.headers.get('strict-transport-security'), 'max-age=31536000');
      const direct = await fetch(`${plain.issuer}.well-known/jwks.json`);
      assert.equal(direct.headers.get('strict-transport-security'), null);
    } finally {
      await behindProxy.close();
      await plain.close();
    }
  });
});
