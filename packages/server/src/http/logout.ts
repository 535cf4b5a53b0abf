import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import {
  decideAuth0Logout,
  decideOidcLogout,
  type LogoutContext,
  type LogoutDecision,
  logOut,
  percentEncodeForHeader,
} from '../login/logout.js';
import { SESSION_COOKIE } from '../login/sessions.js';
import { OAuthError } from '../oauth/errors.js';
import { cookieOptions, issueCsrfCookie, sameSecret } from './login/form.js';
import { sendPage, tenantBranding } from './login/html-response.js';
import { signedInFrom } from './login/next-step.js';
import { upstreamContext } from './login/upstream.js';
import { errorPage, loggedOutPage, logoutConfirmPage } from './login/views/pages.js';
import { readParams } from './params.js';

const LOGOUT_CSRF_COOKIE = 'latchkey_logout';

const MAX_PARAM_LENGTH = 8192;

/** The parameters (http/params.ts rules: none repeated, none overlong), or why they are refused. */
function stringParams(source: unknown): Record<string, string> | string {
  try {
    return readParams(source, { maxLength: MAX_PARAM_LENGTH });
  } catch (err) {
    if (err instanceof OAuthError) return `${err.description}.`;
    throw err;
  }
}

/** `/v2/logout` (Auth0) and `/oidc/logout` (OIDC RP-Initiated Logout 1.0). Both end the SSO session. */
export async function logoutEndpoints(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  async function invalid(reply: FastifyReply, description: string) {
    return sendPage(reply, errorPage(await tenantBranding(ctx.lookups), 'Invalid logout request', description, 'invalid_request'), 400);
  }

  const logoutContext = (request: FastifyRequest): LogoutContext => ({ ...ctx, upstream: upstreamContext(ctx, request) });

  /** Carries out the decision: ends this browser's session, then redirects or says it is done. */
  async function carryOut(request: FastifyRequest, reply: FastifyReply, decision: LogoutDecision) {
    if (decision.action === 'refuse') return invalid(reply, decision.description);
    if (decision.action === 'confirm') {
      const csrf = issueCsrfCookie(reply, ctx, LOGOUT_CSRF_COOKIE, '/oidc/logout', 600);
      const branding = await tenantBranding(ctx.lookups);
      return sendPage(reply, logoutConfirmPage(branding, { ...decision.fields, csrf }), 200, { formTargets: decision.formTargets });
    }
    if (decision.confirmed) reply.clearCookie(LOGOUT_CSRF_COOKIE, cookieOptions(ctx, 0, '/oidc/logout'));
    await logOut(ctx, request.cookies[SESSION_COOKIE], ctx.now(), decision.clientId);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx, 0));
    if (decision.redirectTo) return reply.header('cache-control', 'no-store').redirect(percentEncodeForHeader(decision.redirectTo), 302);
    return sendPage(reply, loggedOutPage(await tenantBranding(ctx.lookups)));
  }

  app.get('/v2/logout', async (request, reply) => {
    const params = stringParams(request.query);
    if (typeof params === 'string') return invalid(reply, params);
    const decision = await decideAuth0Logout(logoutContext(request), { params, signedIn: () => signedInFrom(request, ctx) });
    return carryOut(request, reply, decision);
  });

  async function oidcLogout(request: FastifyRequest, reply: FastifyReply, source: unknown) {
    const params = stringParams(source);
    if (typeof params === 'string') return invalid(reply, params);
    const confirmed =
      request.method === 'POST' && params.action === 'confirm' && sameSecret(params.csrf, request.cookies[LOGOUT_CSRF_COOKIE]);
    const decision = await decideOidcLogout(logoutContext(request), { params, signedIn: () => signedInFrom(request, ctx), confirmed });
    return carryOut(request, reply, decision);
  }

  app.get('/oidc/logout', (request, reply) => oidcLogout(request, reply, request.query));
  app.post('/oidc/logout', (request, reply) => oidcLogout(request, reply, request.body));
}
