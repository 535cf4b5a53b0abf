import { AsyncResource } from 'node:async_hooks';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Ajv from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import { type Config, trustProxyOption } from './config.js';
import { closeProfileScriptSandbox } from './connections/sandbox/index.js';
import { openContext, type ServerContext } from './context.js';
import { type BootstrapResult, bootstrapTenant } from './domain/bootstrap.js';
import { finishDeletedConnections } from './domain/connections.js';
import { everyItem } from './domain/paging.js';
import { managementAudience } from './domain/resource-servers.js';
import { eventScope } from './events/emit.js';
import { authorizeEndpoint } from './http/authorize.js';
import { avatarEndpoint } from './http/avatars.js';
import { corsFor } from './http/cors.js';
import { dbConnectionsEndpoints } from './http/dbconnections.js';
import { deviceAuthorizationEndpoint } from './http/device-code.js';
import { discoveryEndpoints } from './http/discovery.js';
import { installErrorHandler, managementBody } from './http/errors.js';
import { healthEndpoint } from './http/health.js';
import { homeEndpoint } from './http/home.js';
import { rejectUnstorableInput } from './http/input-limits.js';
import { jobFileEndpoint } from './http/job-files.js';
import { accountPages } from './http/login/account.js';
import { deviceActivationPages } from './http/login/device.js';
import { hostedPages } from './http/login/routes.js';
import { upstreamRoutes } from './http/login/upstream.js';
import { logoutEndpoints } from './http/logout.js';
import { managementApi } from './http/management/plugin.js';
import { registrationEndpoint } from './http/register.js';
import { revocationEndpoint } from './http/revoke.js';
import { tokenEndpoint } from './http/token.js';
import { userinfoEndpoint } from './http/userinfo.js';
import { errorForLog, LOG_REDACT_PATHS, requestForLog } from './logging.js';
import { startMemoryTrim } from './memory-trim.js';
import { listenForMetrics, metricsEnabled, metricsEndpoint, ServerMetrics } from './metrics.js';
import type { GrantRegistry } from './oauth/grants/index.js';
import { assertCanListen, errorText, listenError, StartupError, tlsFiles } from './startup-checks.js';

/**
 * Bodies are validated without coercion (a number is not a string) and without silently dropping
 * unknown properties; query strings and path parameters are text, so those may be coerced.
 */
function validatorCompilers() {
  const body = new Ajv.default({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  const text = new Ajv.default({ coerceTypes: 'array', removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => (httpPart === 'body' ? body : text).compile(schema);
}

export interface AppOptions {
  /** Where the log goes (default stdout); tests pass a stream to read it. */
  logStream?: DestinationStream;
  /** TLS material already read and checked by tlsFiles (read from the config otherwise). */
  https?: { cert: Buffer; key: Buffer } | null;
  /** This server's metrics, when the configuration turns them on (made here otherwise). */
  metrics?: ServerMetrics;
}

/**
 * Node checks request and header timeouts only every `connectionsCheckingInterval` (30 s by
 * default), so a small timeout needs a shorter interval to mean anything.
 */
function timeouts(config: Config) {
  const requestTimeout = config.requestTimeoutMs;
  // Headers get at most 10 s: a client that cannot send a few hundred bytes in that time is not one.
  const headersTimeout = Math.min(requestTimeout, 10_000);
  const connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2)));
  return {
    // A connection trickling its body (slowloris) is answered 408 and closed after this long.
    requestTimeout,
    // A socket silent for longer is closed even mid-response (a client that stops reading). Generous:
    // while an upstream sign-in runs (token exchange, profile script: up to 10 s each) the socket is quiet.
    connectionTimeout: Math.max(2 * requestTimeout, 60_000),
    keepAliveTimeout: config.keepAliveTimeoutMs,
    node: { requestTimeout, headersTimeout, connectionsCheckingInterval, keepAliveTimeout: config.keepAliveTimeoutMs },
  };
}

export async function buildApp(ctx: ServerContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = ctx;
  const https = options.https !== undefined ? options.https : tlsFiles(config);
  const limits = timeouts(config);
  const app = Fastify({
    ...(https ? { https: { ...https, ...limits.node } } : { http: limits.node }),
    requestTimeout: limits.requestTimeout,
    connectionTimeout: limits.connectionTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    // Off unless configured: then request.ip (login throttle, registration and device limits, logs)
    // is the client named by X-Forwarded-For as far as the trusted proxies go, not the proxy.
    trustProxy: trustProxyOption(config),
    logger: {
      level: config.logLevel,
      redact: LOG_REDACT_PATHS,
      serializers: { req: requestForLog, err: errorForLog },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    // Each request is logged once, when it ends (see the onResponse hook), not twice.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Requests Fastify refuses before routing (bad percent-encoding, over-long URLs) still get the
    // error shape of the API they were aimed at.
    frameworkErrors: (error, request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      const message = status === 414 ? 'URI Too Long' : 'Malformed request URL';
      const body = request.url.startsWith('/api/v2')
        ? managementBody(status, 'invalid_uri', message).body
        : { error: 'invalid_request', error_description: message };
      (reply as unknown as FastifyReply).status(status).send(body);
    },
  }) as unknown as FastifyInstance;
  if (new URL(ctx.issuer).protocol === 'https:') {
    // RFC 6797: the public origin is https (TLS here or at a proxy in front); browsers ignore the
    // header on plain http, so sending it on the proxy's inner hop is harmless. No includeSubDomains:
    // other hosts of the domain are not latchkey's to decide.
    app.addHook('onSend', async (_request, reply) => {
      reply.header('strict-transport-security', `max-age=${HSTS_MAX_AGE_SECONDS}`);
    });
  }
  app.setValidatorCompiler(validatorCompilers());
  installEventScope(app, ctx);
  app.addHook('preValidation', rejectUnstorableInput);
  // Actions' failures, denials and console output (debug) go to the server's log.
  ctx.actions.log ??= (message, data, level = 'warn') => app.log[level](data, message);
  // One line per request at info, when it ends, in Fastify's own shape (reqId, req, res, responseTime)
  // plus the route pattern; the URL's secret query values are redacted by the req serializer.
  if (['info', 'debug', 'trace'].includes(config.logLevel)) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.info(
        {
          req: request,
          route: request.routeOptions.url ?? null,
          res: { statusCode: reply.statusCode },
          responseTime: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request completed',
      );
    });
  }
  const metrics = options.metrics ?? (metricsEnabled(config) ? new ServerMetrics(ctx.storage) : undefined);
  metrics?.observe(app);
  // On the public port only when no separate metrics port is configured; then behind the token.
  if (metrics && config.metricsPort === undefined && config.metricsToken !== undefined) {
    const token = config.metricsToken;
    await app.register(async (scope) => metricsEndpoint(scope, metrics, token));
  }
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: 'not_found', error_description: 'Not Found' }));
  // Errors outside any endpoint's own handler (e.g. a body that cannot be parsed on an unknown route).
  installErrorHandler(app, 'oauth', ctx);

  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(cookie);
  await app.register(async (scope) => healthEndpoint(scope, ctx));
  await app.register(avatarEndpoint);
  await app.register(async (scope) => homeEndpoint(scope, ctx));
  // What browser apps (auth0-spa-js) call across origins; the login pages themselves never need CORS.
  await app.register(async (scope) => {
    await corsFor(scope, ctx.lookups, CORS_PATHS);
    await scope.register(async (inner) => discoveryEndpoints(inner, ctx));
    await scope.register(async (inner) => {
      await tokenEndpoint(inner, ctx);
      await revocationEndpoint(inner, ctx);
      await deviceAuthorizationEndpoint(inner, ctx);
    });
    await scope.register(async (inner) => userinfoEndpoint(inner, ctx));
    await scope.register(async (inner) => dbConnectionsEndpoints(inner, ctx));
  });
  // Browser-facing pages: a failure there is an HTML error page, not JSON.
  await app.register(async (pages) => {
    installErrorHandler(pages, 'hosted', ctx);
    await pages.register(async (scope) => authorizeEndpoint(scope, ctx));
    await pages.register(async (scope) => hostedPages(scope, ctx));
    await pages.register(async (scope) => accountPages(scope, ctx));
    await pages.register(async (scope) => upstreamRoutes(scope, ctx));
    await pages.register(async (scope) => deviceActivationPages(scope, ctx));
    await pages.register(async (scope) => logoutEndpoints(scope, ctx));
  });
  await app.register(async (scope) => registrationEndpoint(scope, ctx));
  await app.register(async (scope) => jobFileEndpoint(scope, ctx));
  await app.register(async (scope) => managementApi(scope, ctx), { prefix: '/api/v2' });
  return app;
}

const eventScopeResource = Symbol('event scope');
const MAX_USER_AGENT = 512;

/**
 * Every request runs in an event scope (events/emit.ts): the domain records events without being
 * handed the request, and each event gets the request's address and user agent. The hostname is the
 * issuer's, never the Host header. Body parsing leaves the async context, so the scope is entered
 * again before validation (as @fastify/request-context does).
 */
function installEventScope(app: FastifyInstance, ctx: ServerContext): void {
  const hostname = new URL(ctx.issuer).host;
  app.addHook('onRequest', (request, _reply, done) => {
    const userAgent = request.headers['user-agent']?.slice(0, MAX_USER_AGENT);
    eventScope.run({ sink: ctx.events, ip: request.ip, hostname, ...(userAgent ? { userAgent } : {}) }, () => {
      const resource = new AsyncResource('latchkey-event-scope');
      (request as unknown as Record<symbol, AsyncResource>)[eventScopeResource] = resource;
      resource.runInAsyncScope(done, request.raw);
    });
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const resource = (request as unknown as Record<symbol, AsyncResource | undefined>)[eventScopeResource];
    if (resource) resource.runInAsyncScope(done, request.raw);
    else done();
  });
}

const SWEEP_INTERVAL_MS = 10 * 60_000;
const HSTS_MAX_AGE_SECONDS = 365 * 86400;

/** Endpoints that browser apps (auth0-spa-js) call across origins. */
const CORS_PATHS = [
  '/oauth/token',
  '/oauth/revoke',
  '/oauth/device/code',
  '/userinfo',
  '/dbconnections/signup',
  '/dbconnections/change_password',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/.well-known/jwks.json',
];

export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  bootstrap: BootstrapResult;
  masterKeyCreatedAt?: string;
  /** The bound address, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** The separate metrics listener's /metrics URL, when LATCHKEY_METRICS_PORT is set. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/** Fails at start, not at the first request (nor after creating a tenant), if the master key is wrong. */
async function assertMasterKeyOpensSigningKey(ctx: ServerContext): Promise<void> {
  if (!(await ctx.storage.signingKeys.list()).some((k) => k.retiredAt === null)) return;
  await ctx.keys.current().catch((err: unknown) => {
    throw new StartupError(
      `latchkey: the master key (LATCHKEY_MASTER_KEY, or master.key in LATCHKEY_DATA_DIR) ` +
        `cannot decrypt the current signing key: ${errorText(err)}`,
      { cause: err },
    );
  });
}

/**
 * Without LATCHKEY_ISSUER the issuer follows the port, so starting once on another port would silently
 * give the tenant a second issuer and a second Management API (and tokens no app expects). Refused
 * instead: an issuer changes only when LATCHKEY_ISSUER says so.
 */
async function assertIssuerUnchanged(ctx: ServerContext): Promise<void> {
  if (!ctx.config.issuerFromPort) return;
  const audience = managementAudience(ctx.issuer);
  const systemApis: string[] = [];
  for await (const rs of everyItem((page) => ctx.storage.resourceServers.list(page))) if (rs.is_system) systemApis.push(rs.identifier);
  if (systemApis.length === 0 || systemApis.includes(audience)) return;
  const previous = systemApis.at(-1)!.replace(/api\/v2\/$/, '');
  throw new StartupError(
    `latchkey: this tenant's issuer is ${previous}, not ${ctx.issuer} (derived from LATCHKEY_PORT): ` +
      `set LATCHKEY_ISSUER=${previous} to keep it, or LATCHKEY_ISSUER to the new public URL to change it`,
  );
}

/**
 * Checks what can fail (TLS files, the port, the database) before creating anything, then
 * bootstraps the tenant and listens. If the start still fails after admin credentials were
 * generated, the StartupError carries them so they are not lost. Used by the CLI and by the tests.
 */
export async function startServer(
  config: Config,
  options: Omit<AppOptions, 'https'> & { now?: () => number; grants?: GrantRegistry } = {},
): Promise<RunningServer> {
  const https = tlsFiles(config);
  await assertCanListen(config);
  const { ctx, masterKeyCreatedAt } = await openContext(config, options.now);
  if (options.grants) ctx.grants = options.grants;
  let bootstrap: BootstrapResult | undefined;
  try {
    await assertMasterKeyOpensSigningKey(ctx);
    await assertIssuerUnchanged(ctx);
    bootstrap = await bootstrapTenant(ctx.storage, ctx.digester, ctx.keys, {
      issuer: ctx.issuer,
      ...(config.adminClientId ? { adminClientId: config.adminClientId } : {}),
      ...(config.adminClientSecret ? { adminClientSecret: config.adminClientSecret } : {}),
      ...(config.auth0CompatibleDefaults !== undefined ? { auth0CompatibleDefaults: config.auth0CompatibleDefaults } : {}),
    });
    await assertMasterKeyOpensSigningKey(ctx); // the key bootstrap may just have made
    const metrics = metricsEnabled(config) ? new ServerMetrics(ctx.storage) : undefined;
    const app = await buildApp(ctx, { ...options, https, ...(metrics ? { metrics } : {}) });
    const url = await app.listen({ port: config.port, host: config.host }).catch(async (err: unknown) => {
      await app.close();
      throw listenError(config, err);
    });
    const metricsListener =
      metrics && config.metricsPort !== undefined
        ? await listenForMetrics(metrics, config).catch(async (err: unknown) => {
            await app.close();
            throw new StartupError(
              `latchkey: cannot listen for metrics on ${config.metricsHost}:${config.metricsPort} ` +
                `(LATCHKEY_METRICS_HOST, LATCHKEY_METRICS_PORT): ${errorText(err)}`,
              { cause: err },
            );
          })
        : undefined;
    // A connection deletion stopped midway (a crash, a deploy) leaves users on a name with no
    // connection; they are finished in the background, in the same short batches.
    ctx.background.run(
      (signal) => finishDeletedConnections(ctx.storage, new Date(ctx.now()), signal),
      (err) => app.log.error({ err }, 'finishing deleted connections failed'),
    );
    // Expired codes, transactions, throttles and long-dead tokens are deleted in the background.
    const sweep = setInterval(() => {
      ctx.storage.sweepExpired(new Date(ctx.now()).toISOString()).catch((err: unknown) => app.log.warn({ err }, 'sweep failed'));
    }, SWEEP_INTERVAL_MS);
    sweep.unref();
    const trim = startMemoryTrim(config.memoryTrimIdleSeconds, (freed, ms) =>
      app.log.debug({ freedMb: Math.round(freed / 1e6), ms: Math.round(ms) }, 'idle: memory returned'),
    );
    ctx.jobs.log = app.log;
    ctx.mail.log = app.log;
    ctx.mailDelivery.log = app.log;
    ctx.mailDelivery.start();
    ctx.jobs.start();
    ctx.events.log = app.log;
    ctx.events.start();
    ctx.logStreams.log = app.log;
    ctx.logStreams.start();
    let closing: Promise<void> | undefined;
    return {
      app,
      ctx,
      bootstrap,
      ...(masterKeyCreatedAt ? { masterKeyCreatedAt } : {}),
      url,
      ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
      close: () => {
        clearInterval(sweep);
        metricsListener?.server.close();
        metricsListener?.server.closeAllConnections();
        trim.stop();
        closeProfileScriptSandbox();
        // The runner finishes the unit of work in progress (its commit renews nothing after): the job's
        // lease then runs out and whichever node claims it next resumes from the committed cursor.
        return (closing ??= app
          .close()
          .then(() => ctx.jobs.stop())
          .then(() => ctx.mailDelivery.stop())
          .then(() => ctx.background.stop())
          .then(() => ctx.events.close())
          // After the last events are written; what this node leaves undelivered waits at the stream's cursor.
          .then(() => ctx.logStreams.stop())
          .then(() => ctx.storage.close()));
      },
    };
  } catch (err) {
    await ctx.storage.close();
    const failure = err instanceof StartupError ? err : new StartupError(`latchkey: cannot start: ${errorText(err)}`, { cause: err });
    if (bootstrap?.generatedAdmin) failure.generatedAdmin = bootstrap.generatedAdmin;
    throw failure;
  }
}
