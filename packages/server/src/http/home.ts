import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { sendPage, tenantBranding } from './login/html-response.js';
import { homePage } from './login/views/pages.js';

const DOCS_URL = 'https://www.npmjs.com/package/@latchkey/server';

/**
 * `/`: a browser (Accept: text/html) gets a small page with a strict CSP linking to discovery and the
 * docs; any other client gets the same links as JSON, so scripts and health probes never parse HTML.
 */
export async function homeEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/', async (request, reply) => {
    const links = {
      issuer: ctx.issuer,
      discovery: `${ctx.issuer}.well-known/openid-configuration`,
      jwks: `${ctx.issuer}.well-known/jwks.json`,
      docs: DOCS_URL,
    };
    reply.header('vary', 'accept');
    if (!(request.headers.accept ?? '').includes('text/html')) {
      return reply.header('cache-control', 'no-store').send({
        name: 'latchkey',
        issuer: links.issuer,
        openid_configuration: links.discovery,
        jwks_uri: links.jwks,
        documentation: links.docs,
      });
    }
    return sendPage(reply, homePage(await tenantBranding(ctx.lookups), links));
  });
}
