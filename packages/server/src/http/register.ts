import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { auth0DefaultsOn } from '../domain/auth0-defaults.js';
import { deleteClient } from '../domain/clients.js';
import { DomainError, forbidden, invalid } from '../domain/errors.js';
import { addressKey } from '../login/address.js';
import {
  issueRegistrationToken,
  parseRegistration,
  type RegistrationRequest,
  registerClient,
  registrationResponse,
  registrationTokenValid,
  updateRegisteredClient,
} from '../oauth/registration.js';
import { installErrorHandler } from './errors.js';
import { FixedWindowLimiter, type RateLimitAnswer, SharedWindowLimiter } from './rate-limit.js';

export const DCR_FLAG = 'enable_dynamic_client_registration';
/** RFC 7592 management of a registration by the client itself; off by default. */
export const MANAGEMENT_FLAG = 'enable_dynamic_client_registration_management';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * `POST /oidc/register` (RFC 7591), refused unless the tenant enabled dynamic registration. Every
 * registered client is third-party: consent, PKCE and domain connections only.
 */
export async function registrationEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const limiter = new FixedWindowLimiter(ctx.config.registrationRateLimit, 1000, ctx.now);
  // Addresses are cheap to come by: the tenant as a whole registers at most this many a minute.
  const tenantLimiter = new SharedWindowLimiter(ctx.storage, {
    key: 'registration',
    limit: ctx.config.registrationTenantRateLimit,
    windowMs: 60_000,
    clock: ctx.now,
  });
  const rateHeaders = (reply: FastifyReply, limit: number, rate: RateLimitAnswer) =>
    reply.headers({
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(rate.remaining),
      'x-ratelimit-reset': String(Math.ceil(rate.resetAt / 1000)),
    });
  const tooMany = (rate: RateLimitAnswer, limit: number, description: string) =>
    new DomainError('limit', 'too_many_registrations', description, { lock: { until: new Date(rate.resetAt), limit } });
  // One answer for an unknown client and a wrong token (RFC 7592 §2): nothing to probe.
  const invalidToken = (description: string) => new DomainError('unauthorized', 'invalid_token', description);
  const initialToken = ctx.config.registrationInitialAccessToken;
  const clientUri = (clientId: string) => `${ctx.issuer}oidc/register/${encodeURIComponent(clientId)}`;
  const managementFields = async (clientId: string) => ({
    registration_access_token: await issueRegistrationToken(ctx.storage, ctx.digester, clientId),
    registration_client_uri: clientUri(clientId),
  });

  /** The RFC 7591 metadata of a JSON request. */
  async function parseBody(request: FastifyRequest): Promise<RegistrationRequest> {
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) throw invalid('Send the metadata as application/json.');
    // A RegistrationError goes to the registration mapper (http/errors.ts) as RFC 7591's 400.
    return parseRegistration(request.body, {
      implicit: auth0DefaultsOn(await ctx.lookups.tenantSettings()),
      grantTypes: ctx.grants.registrableGrantTypes,
    });
  }

  installErrorHandler(app, 'registration', ctx);

  app.post('/oidc/register', { bodyLimit: 32 * 1024 }, async (request, reply) => {
    const rate = limiter.hit(addressKey(request.ip));
    rateHeaders(reply, limiter.limit, rate).header('cache-control', 'no-store');
    if (!rate.allowed) throw tooMany(rate, limiter.limit, 'Too many registrations from this address; slow down.');
    const settings = await ctx.lookups.tenantSettings();
    if (settings.flags[DCR_FLAG] !== true) throw forbidden('Dynamic client registration is not enabled for this tenant.', 'access_denied');
    if (initialToken !== undefined) {
      const presented = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      // Digests have one length, so the comparison is constant-time whatever was sent.
      if (!presented || !timingSafeEqual(sha256(presented), sha256(initialToken))) {
        throw invalidToken('A valid initial access token is required to register.');
      }
    }
    const parsed = await parseBody(request);
    // Counted only for requests that would register, so malformed ones cannot use up the tenant's allowance.
    const tenantRate = await tenantLimiter.hit();
    if (tenantRate.remaining < rate.remaining || !tenantRate.allowed) rateHeaders(reply, tenantLimiter.limit, tenantRate);
    if (!tenantRate.allowed) throw tooMany(tenantRate, tenantLimiter.limit, 'Too many registrations for this tenant; try again later.');
    const registered = await registerClient(ctx.storage, ctx.digester, parsed, {
      clientIdPrefix: ctx.config.registrationClientIdPrefix,
      maxRegistered: ctx.config.registrationMaxClients,
    });
    if (!registered) {
      // Not one of RFC 7591's metadata errors: the request is fine, the tenant is full. 403 as for a disabled endpoint.
      request.log.warn({ max: ctx.config.registrationMaxClients }, 'dynamic registration refused: limit of registered clients reached');
      throw forbidden(
        'This tenant holds as many dynamically registered clients as it allows (LATCHKEY_REGISTRATION_MAX_CLIENTS); ' +
          'delete unused ones to register more.',
        'access_denied',
      );
    }
    const { client, secret } = registered;
    request.log.info({ client_id: client.client_id, ip: request.ip }, 'client registered dynamically');
    const management = settings.flags[MANAGEMENT_FLAG] === true ? await managementFields(client.client_id) : undefined;
    return reply.status(201).send(registrationResponse(client, secret, ctx.now(), management));
  });

  /** RFC 7592: read, replace or delete a registration with its registration access token. */
  async function registeredClient(request: FastifyRequest<{ Params: { clientId: string } }>, reply: FastifyReply) {
    reply.header('cache-control', 'no-store');
    const { flags } = await ctx.lookups.tenantSettings();
    if (flags[DCR_FLAG] !== true || flags[MANAGEMENT_FLAG] !== true) {
      throw forbidden('Client registration management is not enabled for this tenant.', 'access_denied');
    }
    const token = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const client = (await ctx.lookups.client(request.params.clientId))?.client;
    if (
      !token ||
      !client ||
      client.registration_source !== 'dynamic_registration' ||
      !(await registrationTokenValid(ctx.storage, ctx.digester, client.client_id, token))
    ) {
      throw invalidToken('Invalid registration access token.');
    }
    return client;
  }

  app.get<{ Params: { clientId: string } }>('/oidc/register/:clientId', async (request, reply) => {
    const client = await registeredClient(request, reply);
    return reply.send(registrationResponse(client, undefined, undefined, { registration_client_uri: clientUri(client.client_id) }));
  });

  app.put<{ Params: { clientId: string } }>('/oidc/register/:clientId', { bodyLimit: 32 * 1024 }, async (request, reply) => {
    const client = await registeredClient(request, reply);
    const parsed = await parseBody(request);
    const body = request.body as Record<string, unknown>;
    if (body.client_id !== undefined && body.client_id !== client.client_id) {
      throw invalid('client_id does not match the registration');
    }
    const updated = await updateRegisteredClient(ctx.storage, ctx.digester, client, parsed);
    return reply.send(
      registrationResponse(updated.client, updated.secret, undefined, { registration_client_uri: clientUri(client.client_id) }),
    );
  });

  app.delete<{ Params: { clientId: string } }>('/oidc/register/:clientId', async (request, reply) => {
    const client = await registeredClient(request, reply);
    await deleteClient(ctx.storage, client.client_id, new Date(ctx.now()));
    request.log.info({ client_id: client.client_id }, 'dynamically registered client deleted itself');
    return reply.status(204).send();
  });
}
