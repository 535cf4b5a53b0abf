import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { parseRegistration, registerClient, registrationResponse, RegistrationError } from '../oauth/registration.js';
import { FixedWindowLimiter } from './rate-limit.js';

export const DCR_FLAG = 'enable_dynamic_client_registration';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * `POST /oidc/register` (RFC 7591), refused unless the tenant enabled dynamic registration. Every
 * registered client is third-party: consent, PKCE and domain connections only.
 */
export async function registrationEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const limiter = new FixedWindowLimiter(ctx.config.registrationRateLimit, 1000, ctx.now);
  const initialToken = ctx.config.registrationInitialAccessToken;

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'registration error');
    return reply
      .status(status)
      .send(status === 500 ? { error: 'server_error', error_description: 'Internal error' } : { error: 'invalid_client_metadata', error_description: error.message });
  });

  app.post('/oidc/register', { bodyLimit: 32 * 1024 }, async (request, reply) => {
    const rate = limiter.hit(request.ip);
    reply.headers({
      'x-ratelimit-limit': String(limiter.limit),
      'x-ratelimit-remaining': String(rate.remaining),
      'x-ratelimit-reset': String(Math.ceil(rate.resetAt / 1000)),
      'cache-control': 'no-store',
    });
    if (!rate.allowed) {
      reply.header('retry-after', String(Math.max(1, Math.ceil((rate.resetAt - ctx.now()) / 1000))));
      return reply.status(429).send({ error: 'too_many_requests', error_description: 'Too many registrations from this address; slow down.' });
    }
    const settings = await ctx.lookups.tenantSettings();
    if (settings.flags[DCR_FLAG] !== true) {
      return reply.status(403).send({ error: 'access_denied', error_description: 'Dynamic client registration is not enabled for this tenant.' });
    }
    if (initialToken !== undefined) {
      const presented = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      // Digests have one length, so the comparison is constant-time whatever was sent.
      if (!presented || !timingSafeEqual(sha256(presented), sha256(initialToken))) {
        return reply
          .status(401)
          .header('www-authenticate', 'Bearer error="invalid_token"')
          .send({ error: 'invalid_token', error_description: 'A valid initial access token is required to register.' });
      }
    }
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
      return reply.status(400).send({ error: 'invalid_client_metadata', error_description: 'Send the metadata as application/json.' });
    }
    let parsed;
    try {
      parsed = parseRegistration(request.body);
    } catch (err) {
      if (err instanceof RegistrationError) return reply.status(400).send(err.toJSON());
      throw err;
    }
    const { client, secret } = await registerClient(ctx.storage, ctx.digester, parsed, ctx.config.registrationClientIdPrefix);
    request.log.info({ client_id: client.client_id, ip: request.ip }, 'client registered dynamically');
    return reply.status(201).send(registrationResponse(client, parsed, secret, ctx.now()));
  });
}
