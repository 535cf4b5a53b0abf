/**
 * Prometheus metrics. The event counters (tokens, sign-ins, sandbox runs) live in one registry per
 * process, so the domain and the sandbox count without being handed anything; incrementing a counter
 * costs nanoseconds, so they always count. What costs more (the request histogram, the event-loop
 * monitor, the default process metrics) starts only when a server turns metrics on.
 *
 * Labels are bounded: route patterns (never the raw URL), status codes, grant types the registry
 * knows, fixed result names. No user ids or client ids: each would be one series per user or client.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Storage } from './storage/types.js';

const events = new Registry();

const tokensIssued = new Counter({
  name: 'latchkey_tokens_issued_total',
  help: 'Token responses from /oauth/token, by grant type',
  labelNames: ['grant'] as const,
  registers: [events],
});

/** Outcomes of a password sign-in (hosted login page or the password grant). */
export type SignInResult = 'success' | 'wrong_password' | 'unknown_user' | 'blocked' | 'too_many_attempts';

const signIns = new Counter({
  name: 'latchkey_sign_ins_total',
  help: 'Password sign-ins against database connections, by result',
  labelNames: ['result'] as const,
  registers: [events],
});

const sandboxRuns = new Counter({
  name: 'latchkey_sandbox_runs_total',
  help: 'Profile script and Action runs, by program and outcome (ok, or the failure reason)',
  labelNames: ['program', 'outcome'] as const,
  registers: [events],
});

export function countTokenIssued(grant: string): void {
  tokensIssued.inc({ grant });
}

export function countSignIn(result: SignInResult): void {
  signIns.inc({ result });
}

/** `outcome` is `ok` or a ProfileScriptFailure (timeout, memory, script_error, ...): a fixed set. */
export function countSandboxRun(program: 'action' | 'profile_script', outcome: string): void {
  sandboxRuns.inc({ program, outcome });
}

let processMetricsStarted = false;
/** The default process metrics and the event-loop delay monitor, once per process and only when asked for. */
function startProcessMetrics(): void {
  if (processMetricsStarted) return;
  processMetricsStarted = true;
  collectDefaultMetrics({ register: events, eventLoopMonitoringPrecision: 20 });
}

/** Whether this configuration turns metrics on (they are off by default). */
export function metricsEnabled(config: Pick<Config, 'metricsPort' | 'metricsToken'>): boolean {
  return config.metricsPort !== undefined || config.metricsToken !== undefined;
}

/** The metrics of one server: its requests and its database pool, besides the process-wide ones. */
export class ServerMetrics {
  private readonly registry = new Registry();
  private readonly requests: Histogram<'method' | 'route' | 'status'>;
  private readonly series = new Map<string, { observe(seconds: number): void }>();

  constructor(storage: Pick<Storage, 'poolStats'>) {
    startProcessMetrics();
    this.requests = new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status code, and how long they took',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    const pool = (name: string, help: string, pick: (s: { total: number; idle: number; waiting: number }) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const stats = storage.poolStats();
          if (stats) this.set(pick(stats));
        },
      });
    if (storage.poolStats()) {
      pool('latchkey_db_pool_connections', 'PostgreSQL pool: connections open', (s) => s.total);
      pool('latchkey_db_pool_idle_connections', 'PostgreSQL pool: connections idle', (s) => s.idle);
      pool('latchkey_db_pool_waiting_requests', 'PostgreSQL pool: queries waiting for a connection', (s) => s.waiting);
    }
  }

  /** Counts each request under its route pattern (`/api/v2/users/:id`), or `unmatched` for a 404 outside any route. */
  observe(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      // The labelled child is looked up once per (method, route, status), not hashed from its labels per request.
      const key = `${request.method} ${reply.statusCode} ${route}`;
      let series = this.series.get(key);
      if (!series) {
        series = this.requests.labels({ method: request.method, route, status: String(reply.statusCode) });
        this.series.set(key, series);
      }
      series.observe(reply.elapsedTime / 1000);
    });
  }

  async text(): Promise<string> {
    return `${await events.metrics()}\n${await this.registry.metrics()}`;
  }

  readonly contentType = events.contentType;
}

/** Compares hashes, so neither the length nor a prefix of the token leaks through timing. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  if (!match) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

/** `/metrics` on the public port, behind the bearer token (only when metricsPort is not set). */
export function metricsEndpoint(app: FastifyInstance, metrics: ServerMetrics, token: string): void {
  app.get('/metrics', async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, token)) {
      return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', error_description: 'Unauthorized' });
    }
    return reply.header('content-type', metrics.contentType).send(await metrics.text());
  });
}

/** A listener of its own for /metrics, for an address the public cannot reach (127.0.0.1 by default). */
export async function listenForMetrics(metrics: ServerMetrics, config: Config): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
      return;
    }
    if (config.metricsToken !== undefined && !bearerMatches(request.headers.authorization, config.metricsToken)) {
      response.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' }).end('Unauthorized\n');
      return;
    }
    metrics.text().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort, config.metricsHost, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.metricsPort;
  const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  return { url: `http://${host}:${port}/metrics`, server };
}
