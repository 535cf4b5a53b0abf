import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { jobExpired } from '../domain/jobs/jobs.js';

/**
 * Export files, served to whoever holds a signed, unexpired link (the `location` of a completed
 * export job), without a bearer token: as Auth0's pre-signed download links work. The file is
 * streamed a stored part at a time, so a large export is never held in memory.
 */
export async function jobFileEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/jobs/files/:name',
    {
      schema: {
        params: Type.Object({ name: Type.String({ maxLength: 100, pattern: '^job_[A-Za-z0-9]+\\.(json|csv)\\.gz$' }) }),
        querystring: Type.Object({ expires: Type.String({ maxLength: 20 }), signature: Type.String({ maxLength: 100 }) }),
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { expires, signature } = request.query as { expires: string; signature: string };
      const denied = () => reply.status(403).type('text/plain').send('The link is invalid or has expired.');
      if (!ctx.downloads.verify(`jobs/files/${name}`, expires, signature, ctx.now())) return denied();
      const id = name.slice(0, name.indexOf('.'));
      const job = await ctx.storage.jobs.get(id);
      if (job?.type !== 'users_export' || job.status !== 'completed' || jobExpired(job, ctx.now())) return denied();
      const parts = job.data.parts ?? 0;
      const jobs = ctx.storage.jobs;
      async function* file() {
        for (let seq = 0; seq < parts; seq++) {
          const part = await jobs.getFilePart(id, seq);
          if (part) yield part;
        }
      }
      return reply
        .header('content-type', 'application/gzip')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(file()));
    },
  );
}
