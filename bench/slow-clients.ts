/**
 * Slow-client benchmark: N connections each send request headers, then trickle a request body one
 * byte a second (slowloris). Prints how long latchkey held them (the last one closed, by 408 or
 * reset) against LATCHKEY_REQUEST_TIMEOUT_MS, and the latency of ordinary requests meanwhile.
 *
 * Usage: cd bench && node --import tsx slow-clients.ts [--connections 1000] [--timeout-ms 30000]
 * (--timeout-ms sets LATCHKEY_REQUEST_TIMEOUT_MS; without it the server's default applies).
 * Needs the built server (npm run build -w @latchkey/server). SQLite only: no storage is involved.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  baseEnv,
  expectAlive,
  freePort,
  makeTempDir,
  percentile,
  positiveInteger,
  printTable,
  runBenchmark,
  sleep,
  startPinned,
  waitForOk,
} from './lib/harness.js';
import { expectBuiltServer, latchkeyCli } from './lib/latchkey.js';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    'timeout-ms': { type: 'string' },
  },
});
const connections = positiveInteger(args.connections, '--connections');
const timeoutMs = args['timeout-ms'] === undefined ? undefined : positiveInteger(args['timeout-ms'], '--timeout-ms');
/** The configured bound plus Node's check interval and slack; past this the connection counts as held. */
const GIVE_UP_MS = (timeoutMs ?? 30_000) + 30_000;

async function main(): Promise<number> {
  expectBuiltServer();
  const dataDir = makeTempDir('latchkey-bench-slow-');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/`;
  const env = {
    ...baseEnv(),
    LATCHKEY_PORT: String(port),
    LATCHKEY_HOST: '127.0.0.1',
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_DATABASE_URL: `sqlite:${join(dataDir, 'latchkey.db')}`,
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_MASTER_KEY: randomBytes(32).toString('base64'),
    LATCHKEY_LOG_LEVEL: 'silent',
    ...(timeoutMs !== undefined ? { LATCHKEY_REQUEST_TIMEOUT_MS: String(timeoutMs) } : {}),
  };
  const spawnedAt = performance.now();
  const server = startPinned('latchkey', latchkeyCli, ['start'], env, '0');
  await waitForOk(server, `${issuer}healthz`, spawnedAt);

  const head =
    `POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n';
  const started = performance.now();
  const closedAfter: number[] = [];
  let answered408 = 0;
  const done = Array.from(
    { length: connections },
    () =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        let timer: NodeJS.Timeout | undefined;
        const giveUp = setTimeout(() => socket.destroy(), GIVE_UP_MS);
        socket.on('connect', () => {
          socket.write(head);
          timer = setInterval(() => socket.writable && socket.write('a'), 1000);
        });
        socket.on('data', (chunk) => {
          if (chunk.toString('latin1').startsWith('HTTP/1.1 408')) answered408++;
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(timer);
          clearTimeout(giveUp);
          closedAfter.push(performance.now() - started);
          resolve();
        });
      }),
  );

  // Meanwhile, an ordinary client: one discovery request every 100 ms.
  const latencies: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t0 = performance.now();
      const response = await fetch(`${issuer}.well-known/openid-configuration`);
      await response.arrayBuffer();
      if (response.status === 200) latencies.push(performance.now() - t0);
      await sleep(100);
    }
  })();
  await Promise.all(done);
  probing = false;
  await probe;
  expectAlive(server, 'during the run');
  await server.stop();

  const sorted = Float64Array.from(closedAfter).sort();
  const held = closedAfter.filter((ms) => ms >= GIVE_UP_MS - 1).length;
  const probeSorted = Float64Array.from(latencies).sort();
  console.log(
    `\nslow clients: ${connections} connections trickling a body at 1 byte/s; ` +
      `LATCHKEY_REQUEST_TIMEOUT_MS=${timeoutMs ?? 'default (30000)'}\n`,
  );
  printTable(
    ['closed by server', 'answered 408', 'first closed', 'median closed', 'last closed', 'still open at give-up'],
    [
      [
        `${connections - held}`,
        `${answered408}`,
        `${(sorted[0]! / 1000).toFixed(1)} s`,
        `${(percentile(sorted, 50) / 1000).toFixed(1)} s`,
        `${(sorted[sorted.length - 1]! / 1000).toFixed(1)} s`,
        `${held}`,
      ],
    ],
  );
  console.log(
    `\nordinary requests meanwhile: ${latencies.length}, ` +
      `p50 ${percentile(probeSorted, 50).toFixed(1)} ms, p99 ${percentile(probeSorted, 99).toFixed(1)} ms`,
  );
  return held === 0 ? 0 : 1;
}

await runBenchmark(main);
