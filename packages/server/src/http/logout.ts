import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { federatedLogoutUrl } from '../connections/upstream.js';
import type { SignedIn } from '../login/authorization-flow.js';
import { logoutUrlAllowed, percentEncodeForHeader, readIdTokenHint, returnUrlProblem } from '../login/logout.js';
import { endSession, SESSION_COOKIE } from '../login/sessions.js';
import { cookieOptions, issueCsrfCookie, sameSecret } from './login/form.js';
import { sendPage, tenantBranding } from './login/html-response.js';
import { signedInFrom } from './login/next-step.js';
import { readParams } from './params.js';
import { OAuthError } from '../oauth/errors.js';
import { upstreamContext } from './login/upstream.js';
import { errorPage, loggedOutPage, logoutConfirmPage } from './login/views/pages.js';

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

  async function logOut(request: FastifyRequest, reply: FastifyReply) {
    await endSession(ctx.storage, request.cookies[SESSION_COOKIE], ctx.now());
    reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx, 0));
  }

  /**
   * `federated` (Auth0): a session that came through an OIDC connection continues to that
   * provider's logout, which returns the browser to `back` when the provider has it registered.
   */
  async function federatedTarget(
    request: FastifyRequest,
    params: Record<string, string>,
    signedIn: SignedIn | undefined,
    back: { postLogoutRedirectUri?: string; state?: string },
  ): Promise<string | undefined> {
    const name = signedIn?.session.connection;
    if (params.federated === undefined || !signedIn || !name) return undefined;
    const connection = await ctx.lookups.connection(name);
    return connection && federatedLogoutUrl(upstreamContext(ctx, request), connection, signedIn.session, back);
  }

  async function finish(reply: FastifyReply, target: string | undefined) {
    if (target) return reply.header('cache-control', 'no-store').redirect(percentEncodeForHeader(target), 302);
    return sendPage(reply, loggedOutPage(await tenantBranding(ctx.lookups)));
  }

  app.get('/v2/logout', async (request, reply) => {
    const params = stringParams(request.query);
    if (typeof params === 'string') return invalid(reply, params);
    const { client_id: clientId, returnTo } = params;
    const problem = returnTo !== undefined ? returnUrlProblem('returnTo', returnTo) : undefined;
    if (problem) return invalid(reply, problem);
    let allowed: string[];
    if (clientId !== undefined) {
      const client = (await ctx.lookups.client(clientId))?.client;
      if (!client) return invalid(reply, 'Unknown client.');
      allowed = client.allowed_logout_urls;
    } else {
      allowed = (await ctx.lookups.tenantSettings()).allowed_logout_urls;
    }
    if (returnTo !== undefined && !logoutUrlAllowed(allowed, returnTo)) {
      return invalid(reply, `The "returnTo" URL is not in the list of allowed logout URLs. Add ${returnTo} to the application's (or the tenant's) Allowed Logout URLs.`);
    }
    const target = returnTo ?? (clientId !== undefined ? allowed[0] : undefined);
    const signedIn = params.federated !== undefined ? await signedInFrom(request, ctx) : undefined;
    await logOut(request, reply);
    const upstream = await federatedTarget(request, params, signedIn, target !== undefined ? { postLogoutRedirectUri: target } : {});
    return finish(reply, upstream ?? target);
  });

  async function oidcLogout(request: FastifyRequest, reply: FastifyReply, source: unknown) {
    const params = stringParams(source);
    if (typeof params === 'string') return invalid(reply, params);
    const problem = params.post_logout_redirect_uri !== undefined ? returnUrlProblem('post_logout_redirect_uri', params.post_logout_redirect_uri) : undefined;
    if (problem) return invalid(reply, problem);
    const hint = params.id_token_hint ? await readIdTokenHint(ctx.keys, ctx.issuer, params.id_token_hint) : undefined;
    if (params.id_token_hint && !hint) return invalid(reply, 'The id_token_hint is not a valid id_token of this tenant.');
    if (hint && params.client_id && params.client_id !== hint.clientId) return invalid(reply, 'client_id does not match the id_token_hint.');
    const clientId = hint?.clientId ?? params.client_id;
    const client = clientId !== undefined ? (await ctx.lookups.client(clientId))?.client : undefined;
    if (clientId !== undefined && !client) return invalid(reply, 'Unknown client.');

    let target: string | undefined;
    const redirect = params.post_logout_redirect_uri;
    if (redirect !== undefined) {
      if (!client) return invalid(reply, 'post_logout_redirect_uri needs an id_token_hint or a client_id.');
      if (!client.allowed_logout_urls.includes(redirect)) {
        return invalid(reply, `The post_logout_redirect_uri is not in the application's Allowed Logout URLs: ${redirect}`);
      }
      const url = new URL(redirect);
      if (params.state !== undefined) url.searchParams.set('state', params.state);
      target = url.toString();
    }

    const signedIn = await signedInFrom(request, ctx);
    const upstream = await federatedTarget(request, params, signedIn, redirect !== undefined ? { postLogoutRedirectUri: redirect, ...(params.state !== undefined ? { state: params.state } : {}) } : {});
    // Without a hint for this very session, logout could be forced on the user by any page: ask first.
    const hinted = hint !== undefined && signedIn !== undefined && hint.userId === signedIn.user.user_id && (!hint.sid || hint.sid === signedIn.session.sid);
    if (signedIn && !hinted) {
      const confirmed = request.method === 'POST' && params.action === 'confirm' && sameSecret(params.csrf, request.cookies[LOGOUT_CSRF_COOKIE]);
      if (!confirmed) {
        const csrf = issueCsrfCookie(reply, ctx, LOGOUT_CSRF_COOKIE, '/oidc/logout', 600);
        const fields: Record<string, string> = { ...params, csrf };
        delete fields.action;
        const branding = await tenantBranding(ctx.lookups);
        return sendPage(reply, logoutConfirmPage(branding, fields), 200, { formTargets: [upstream ?? target].filter((t) => t !== undefined) });
      }
      reply.clearCookie(LOGOUT_CSRF_COOKIE, cookieOptions(ctx, 0, '/oidc/logout'));
    }
    await logOut(request, reply);
    return finish(reply, upstream ?? target);
  }

  app.get('/oidc/logout', (request, reply) => oidcLogout(request, reply, request.query));
  app.post('/oidc/logout', (request, reply) => oidcLogout(request, reply, request.body));
}
