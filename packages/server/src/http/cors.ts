import type { FastifyInstance } from 'fastify';
import type { Lookups } from '../storage/cache.js';

const ALLOW_METHODS = 'GET, POST';
const ALLOW_HEADERS = 'Content-Type, Auth0-Client, Authorization, DPoP';
const EXPOSE_HEADERS = 'DPoP-Nonce, WWW-Authenticate';
const MAX_AGE_SECONDS = '600';

/**
 * CORS for the endpoints browser apps (auth0-spa-js) call across origins: an origin is allowed when a
 * client lists it (web origins, allowed origins, callback origins; see oauth/browser-origins.ts),
 * found by one indexed lookup whatever the number of clients. Requests without an Origin
 * header, the token endpoint's usual case, cost one header lookup. Only the given paths answer
 * preflights, so no other endpoint (the login pages, the Management API) ever names an origin.
 */
export async function corsFor(app: FastifyInstance, lookups: Lookups, paths: readonly string[]): Promise<void> {
  const allowedOrigin = async (origin: string | undefined) =>
    origin !== undefined && (await lookups.originAllowed(origin)) ? origin : undefined;

  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    reply.header('vary', 'Origin');
    if (request.method === 'OPTIONS' || !(await allowedOrigin(origin))) return;
    reply.headers({ 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSE_HEADERS });
  });

  for (const path of paths) {
    app.options(path, async (request, reply) => {
      const origin = await allowedOrigin(request.headers.origin);
      if (origin) {
        reply.headers({
          'access-control-allow-origin': origin,
          'access-control-allow-methods': ALLOW_METHODS,
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': MAX_AGE_SECONDS,
        });
      }
      return reply.status(204).send();
    });
  }
}
