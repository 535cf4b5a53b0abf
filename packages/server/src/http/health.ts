import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

/** Liveness and readiness in one: 200 when the database answers, 503 when it does not. */
export async function healthEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/healthz', async (request, reply) => {
    try {
      await ctx.storage.ping();
      return { status: 'ok' };
    } catch (err) {
      request.log.warn({ err }, 'health check failed');
      return reply.status(503).send({ status: 'unavailable' });
    }
  });
}
