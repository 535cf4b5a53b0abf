import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

/**
 * `/healthz`: the process answers and the database answers a query (liveness). `/readyz`: besides,
 * every migration this version knows has been applied, so a load balancer sends nothing to a node
 * whose schema is missing or behind; 503 with a short reason otherwise.
 */
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

  app.get('/readyz', async (request, reply) => {
    try {
      await ctx.storage.ping();
    } catch (err) {
      request.log.warn({ err }, 'readiness check: the database does not answer');
      return reply.status(503).send({ status: 'unavailable', reason: 'database_unreachable' });
    }
    let pending: string[];
    try {
      pending = await ctx.storage.pendingMigrations();
    } catch (err) {
      request.log.warn({ err }, 'readiness check: the migration table cannot be read');
      return reply.status(503).send({ status: 'unavailable', reason: 'database_unreachable' });
    }
    if (pending.length > 0) {
      return reply.status(503).send({ status: 'unavailable', reason: 'migrations_pending', pending: pending.length });
    }
    return { status: 'ok' };
  });
}
