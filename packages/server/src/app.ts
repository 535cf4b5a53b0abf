import { readFileSync } from 'node:fs';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Ajv from 'ajv';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { closeProfileScriptSandbox } from './connections/sandbox/index.js';
import { openContext, type ServerContext } from './context.js';
import { authorizeEndpoint } from './http/authorize.js';
import { avatarEndpoint } from './http/avatars.js';
import { corsFor } from './http/cors.js';
import { dbConnectionsEndpoints } from './http/dbconnections.js';
import { deviceAuthorizationEndpoint } from './http/device-code.js';
import { discoveryEndpoints } from './http/discovery.js';
import { deviceActivationPages } from './http/login/device.js';
import { hostedPages } from './http/login/routes.js';
import { upstreamRoutes } from './http/login/upstream.js';
import { logoutEndpoints } from './http/logout.js';
import { registrationEndpoint } from './http/register.js';
import { revocationEndpoint } from './http/revoke.js';
import { userinfoEndpoint } from './http/userinfo.js';
import { healthEndpoint } from './http/health.js';
import { rejectUnstorableInput } from './http/input-limits.js';
import { managementApi } from './http/management/plugin.js';
import { tokenEndpoint } from './http/token.js';
import { bootstrapTenant, type BootstrapResult } from './model/bootstrap.js';
import { ManagementApiError } from './model/errors.js';

/**
 * Bodies are validated without coercion (a number is not a string) and without silently dropping
 * unknown properties; query strings and path parameters are text, so those may be coerced.
 */
function validatorCompilers() {
  const body = new Ajv.default({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  const text = new Ajv.default({ coerceTypes: 'array', removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : text).compile(schema);
}

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(ctx: ServerContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = ctx;
  const https = config.tlsCert && config.tlsKey
    ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
    : null;
  const app = Fastify({
    ...(https ? { https } : {}),
    logger: options.logger ?? {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'client_secret', 'password'],
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
        ? new ManagementApiError(status, 'invalid_uri', message).toJSON()
        : { error: 'invalid_request', error_description: message };
      (reply as unknown as FastifyReply).status(status).send(body);
    },
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompilers());
  app.addHook('preValidation', rejectUnstorableInput);
  // One line per request at debug level; at the usual levels the hook is not installed at all.
  if (config.logLevel === 'debug' || config.logLevel === 'trace') {
    app.addHook('onResponse', async (request, reply) => {
      request.log.debug(
        { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request',
      );
    });
  }
  app.setNotFoundHandler((_request, reply) =>
    reply.status(404).send({ error: 'not_found', error_description: 'Not Found' }),
  );
  // Errors outside any endpoint's own handler (e.g. a body that cannot be parsed on an unknown route).
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'unhandled error');
    return reply.status(status).send({ error: status === 500 ? 'server_error' : 'invalid_request', error_description: status === 500 ? 'Internal error' : error.message });
  });

  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(cookie);
  await app.register(async (scope) => healthEndpoint(scope, ctx));
  await app.register(avatarEndpoint);
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
  await app.register(async (scope) => authorizeEndpoint(scope, ctx));
  await app.register(async (scope) => hostedPages(scope, ctx));
  await app.register(async (scope) => upstreamRoutes(scope, ctx));
  await app.register(async (scope) => deviceActivationPages(scope, ctx));
  await app.register(async (scope) => logoutEndpoints(scope, ctx));
  await app.register(async (scope) => registrationEndpoint(scope, ctx));
  await app.register(async (scope) => managementApi(scope, ctx), { prefix: '/api/v2' });
  return app;
}

const SWEEP_INTERVAL_MS = 10 * 60_000;

/** Endpoints that browser apps (auth0-spa-js) call across origins. */
const CORS_PATHS = [
  '/oauth/token',
  '/oauth/revoke',
  '/oauth/device/code',
  '/userinfo',
  '/dbconnections/signup',
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
  close(): Promise<void>;
}

/** Opens storage, bootstraps the tenant, and listens. Used by the CLI and by the tests. */
export async function startServer(config: Config, options: AppOptions & { now?: () => number } = {}): Promise<RunningServer> {
  const { ctx, masterKeyCreatedAt } = await openContext(config, options.now);
  try {
    const bootstrap = await bootstrapTenant(ctx.storage, ctx.digester, ctx.keys, {
      issuer: ctx.issuer,
      ...(config.adminClientId ? { adminClientId: config.adminClientId } : {}),
      ...(config.adminClientSecret ? { adminClientSecret: config.adminClientSecret } : {}),
    });
    await ctx.keys.current(); // fail at start, not at the first request, if the master key is wrong
    const app = await buildApp(ctx, options);
    const url = await app.listen({ port: config.port, host: config.host });
    // Expired codes, transactions, throttles and long-dead tokens are deleted in the background.
    const sweep = setInterval(() => {
      ctx.storage.sweepExpired(new Date(ctx.now()).toISOString()).catch((err: unknown) => app.log.warn({ err }, 'sweep failed'));
    }, SWEEP_INTERVAL_MS);
    sweep.unref();
    let closing: Promise<void> | undefined;
    return {
      app,
      ctx,
      bootstrap,
      ...(masterKeyCreatedAt ? { masterKeyCreatedAt } : {}),
      url,
      close: () => {
        clearInterval(sweep);
        closeProfileScriptSandbox();
        return (closing ??= app.close().then(() => ctx.storage.close()));
      },
    };
  } catch (err) {
    await ctx.storage.close();
    throw err;
  }
}
