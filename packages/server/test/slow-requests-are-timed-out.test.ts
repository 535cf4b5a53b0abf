/**
 * Connections that trickle a request (slowloris) or sit idle are closed within the configured
 * bounds (LATCHKEY_REQUEST_TIMEOUT_MS, LATCHKEY_KEEP_ALIVE_TIMEOUT_MS), so a thousand of them cannot
 * be held open. Small bounds here; the test only checks that the connection was closed before a
 * generous deadline, never how fast.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let port: number;
const DEADLINE_MS = 15_000;

before(async () => {
  server = await startTestServer({ config: { requestTimeoutMs: 500, keepAliveTimeoutMs: 300 } });
  port = Number(new URL(server.issuer).port);
});
after(() => server.close());

/** Opens a socket, lets `feed` write to it, and resolves with what came back once the server closed it. */
function untilClosed(feed: (socket: Socket) => () => void): Promise<{ closed: boolean; received: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let stopFeeding = () => {};
    const deadline = setTimeout(() => {
      stopFeeding();
      socket.destroy();
      resolve({ closed: false, received });
    }, DEADLINE_MS);
    socket.on('connect', () => (stopFeeding = feed(socket)));
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(deadline);
      stopFeeding();
      resolve({ closed: true, received });
    });
  });
}

/** Writes one byte every 100 ms for as long as the socket is open. */
const trickle = (socket: Socket, head: string) => {
  socket.write(head);
  const timer = setInterval(() => socket.writable && socket.write('a'), 100);
  return () => clearInterval(timer);
};

test('a request body trickled a byte at a time is answered 408 or closed', async () => {
  const head =
    `POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n';
  const { closed, received } = await untilClosed((socket) => trickle(socket, head));
  assert.ok(closed, `still open after ${DEADLINE_MS} ms`);
  if (received) assert.match(received, /^HTTP\/1\.1 408/);
});

test('request headers trickled a byte at a time are closed too', async () => {
  const { closed } = await untilClosed((socket) =>
    trickle(socket, `GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `),
  );
  assert.ok(closed, `still open after ${DEADLINE_MS} ms`);
});

test('a connection that sends nothing at all is closed', async () => {
  const { closed } = await untilClosed(() => () => {});
  assert.ok(closed, `still open after ${DEADLINE_MS} ms`);
});

test('an idle keep-alive connection is closed after a complete request', async () => {
  const { closed, received } = await untilClosed((socket) => {
    socket.write(`GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
    return () => {};
  });
  assert.match(received, /^HTTP\/1\.1 200/);
  assert.ok(closed, `still open after ${DEADLINE_MS} ms`);
});

test('bad timeout settings name their variable', async () => {
  const { ConfigError, loadConfig } = await import('../src/config.js');
  for (const [name, value] of [
    ['LATCHKEY_REQUEST_TIMEOUT_MS', '0'],
    ['LATCHKEY_KEEP_ALIVE_TIMEOUT_MS', 'soon'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (err: unknown) => err instanceof ConfigError && err.message.includes(name),
    );
  }
});
