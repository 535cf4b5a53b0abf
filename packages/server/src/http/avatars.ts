import type { FastifyInstance } from 'fastify';
import { avatarSvg } from '../domain/default-picture.js';

/**
 * `GET /avatars/{initials}.svg`: the default `picture` of users without one. Any site may show it
 * (Cross-Origin-Resource-Policy), nothing in it can run (CSP sandbox, nosniff), and it never
 * changes for a name, so caches may keep it.
 */
export async function avatarEndpoint(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { file: string } }>('/avatars/:file', async (request, reply) => {
    const svg = avatarSvg(request.params.file);
    if (!svg) return reply.status(404).send({ error: 'not_found', error_description: 'Not Found' });
    return reply
      .headers({
        'content-type': 'image/svg+xml',
        'content-security-policy': "default-src 'none'; sandbox",
        'x-content-type-options': 'nosniff',
        'cross-origin-resource-policy': 'cross-origin',
        'cache-control': 'public, max-age=86400',
      })
      .send(svg);
  });
}
