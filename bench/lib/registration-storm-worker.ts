/**
 * The registration storm of registration-storm.ts, in a process of its own: registrations at a set
 * pace from several source addresses (127.0.0.10, .11, ...), each followed by a preflight from the new
 * client's origin, until the parent sends "stop"; then it reports what it did and exits.
 *
 * Usage (by fork, with an IPC channel): node --import tsx lib/registration-storm-worker.ts ISSUER RATE ADDRESSES
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';

const [issuer, rateText, addressText] = process.argv.slice(2);
if (!issuer || !process.send) throw new Error('run by registration-storm.ts, with an IPC channel');
const registrationRate = Number(rateText);
const addressCount = Number(addressText);

function send(agent: Agent, url: URL, method: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method, headers, agent }, (res) => {
      res.resume();
      res.once('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statuses: Record<string, number> = {};
const count = (key: string) => (statuses[key] = (statuses[key] ?? 0) + 1);
let registered = 0;
let running = true;
const started = performance.now();
const intervalMs = (1000 * addressCount) / registrationRate;
const registerUrl = new URL(`${issuer}oidc/register`);
const tokenUrl = new URL(`${issuer}oauth/token`);

const workers = Array.from({ length: addressCount }, async (_, n) => {
  const agent = new Agent({ keepAlive: true, localAddress: `127.0.0.${10 + n}` } as ConstructorParameters<typeof Agent>[0]);
  // Spread the workers over the interval, then keep each to its schedule.
  let next = started + (intervalMs * n) / addressCount;
  try {
    while (running) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      next += intervalMs;
      const origin = `https://storm-${n}-${randomBytes(6).toString('hex')}.example`;
      const body = JSON.stringify({ client_name: 'Storm', redirect_uris: [`${origin}/callback`], token_endpoint_auth_method: 'none' });
      const status = await send(
        agent,
        registerUrl,
        'POST',
        { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        body,
      );
      count(`register ${status}`);
      if (status !== 201) continue;
      registered++;
      count(`preflight ${await send(agent, tokenUrl, 'OPTIONS', { origin, 'access-control-request-method': 'POST' })}`);
    }
  } catch (err) {
    count(`error ${(err as Error).message}`);
  } finally {
    agent.destroy();
  }
});

process.send({ ready: true });
process.on('message', async () => {
  running = false;
  await Promise.all(workers);
  process.send!({ registered, seconds: (performance.now() - started) / 1000, statuses }, () => process.exit(0));
});
