import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { addressDigest } from '../login/address.js';
import { startAuthorization } from '../login/authorization-flow.js';
import { AuthorizeError, type AuthorizeParams, type AuthorizeState, validateAuthorizationRequest } from '../oauth/authorize/index.js';
import { OAuthError } from '../oauth/errors.js';
import { actionRequestInfo } from './action-request.js';
import { sendPage, tenantBranding } from './login/html-response.js';
import { errorParams, sendAuthorizationResult, sendNextStep, signedInFrom } from './login/next-step.js';
import { errorPage } from './login/views/pages.js';
import { readParams } from './params.js';

const MAX_PARAM_LENGTH = 4096;

/**
 * Query or form parameters by the rules of http/params.ts (none repeated, RFC 6749 §3.1). A refusal
 * here is shown on the error page: before client_id and redirect_uri are checked, nothing is trusted
 * enough to redirect to.
 */
function singleValued(source: unknown): AuthorizeParams | string {
  try {
    return readParams(source, { maxLength: MAX_PARAM_LENGTH });
  } catch (err) {
    if (err instanceof OAuthError) return err.description;
    throw err;
  }
}

/**
 * `GET|POST /authorize`. Until the client and redirect URI are known good, failures are shown on
 * the error page; after that they go back to the client by its response mode.
 */
export async function authorizeEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  async function showError(reply: FastifyReply, error: AuthorizeError) {
    const title = error.title ?? 'Something went wrong';
    return sendPage(reply, errorPage(await tenantBranding(ctx.lookups), title, error.description, error.error), 400);
  }

  async function handle(request: FastifyRequest, reply: FastifyReply, source: unknown) {
    const params = singleValued(source);
    if (typeof params === 'string') return showError(reply, new AuthorizeError('invalid_request', params, false));
    const state: AuthorizeState = { request: {} };
    let validated;
    try {
      validated = await validateAuthorizationRequest(params, ctx, state);
    } catch (err) {
      if (!(err instanceof AuthorizeError)) throw err;
      if (!err.redirectable || !state.request.redirectUri) return showError(reply, err);
      const target = { redirectUri: state.request.redirectUri, responseMode: state.request.responseMode ?? 'query' };
      return sendAuthorizationResult(reply, ctx, target, errorParams(err, state.request, ctx.issuer));
    }
    const input = { request: validated.request, client: validated.client, api: validated.api, http: actionRequestInfo(request) };
    const origin = { source: addressDigest(request.ip), maxPending: ctx.config.loginTransactionsPerIp };
    const step = await startAuthorization(ctx, input, await signedInFrom(request, ctx), origin);
    return sendNextStep(reply, ctx, step, validated.request);
  }

  app.get('/authorize', (request, reply) => handle(request, reply, request.query));
  app.post('/authorize', (request, reply) => handle(request, reply, request.body));
}
