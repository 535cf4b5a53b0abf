import type { FastifyReply, FastifyRequest } from 'fastify';
import { upstreamIdTokenContext } from '../../connections/upstream.js';
import type { ServerContext } from '../../context.js';
import type { AuthorizationRequest, LoginTransaction, Session, User } from '../../domain/types.js';
import {
  afterSignIn,
  type FlowInput,
  LOGIN_TRANSACTION_LIFETIME_MS,
  type NextStep,
  type SignedIn,
} from '../../login/authorization-flow.js';
import { createSession, endSession, passwordChangedSince, readSession, SESSION_COOKIE } from '../../login/sessions.js';
import type { AuthorizeError } from '../../oauth/authorize/index.js';
import { actionRequestInfo } from '../action-request.js';
import { cookieOptions, sameSecret } from './form.js';
import { sendPage, tenantBranding } from './html-response.js';
import { errorPage, formPostPage, webMessagePage } from './views/pages.js';

/** One cookie per transaction, so sign-ins in two tabs do not trample each other. */
export const transactionCookie = (txId: string) => `latchkey_tx_${txId.slice(0, 12)}`;

export function setSessionCookie(reply: FastifyReply, ctx: ServerContext, value: string, lifetimeHours: number): void {
  reply.setCookie(SESSION_COOKIE, value, cookieOptions(ctx, lifetimeHours * 3600));
}

/** The signed-in user behind the SSO cookie, if the session is alive and the user still exists. */
export async function signedInFrom(request: FastifyRequest, ctx: ServerContext): Promise<SignedIn | undefined> {
  const settings = await ctx.lookups.tenantSettings();
  const session: Session | undefined = await readSession(ctx.storage, request.cookies[SESSION_COOKIE], settings, ctx.now());
  if (!session) return undefined;
  const user = (await ctx.storage.users.get(session.userId))?.user;
  // A blocked user has no usable session: not for SSO, a pending consent page, nor device approval.
  return user && !user.blocked ? { user, session } : undefined;
}

/** The client and API a stored request refers to, looked up again: either may have changed meanwhile. */
export async function flowInputFor(ctx: ServerContext, request: AuthorizationRequest): Promise<FlowInput | undefined> {
  const client = (await ctx.lookups.client(request.clientId))?.client;
  if (!client) return undefined;
  const api = request.audience ? await ctx.lookups.resourceServer(request.audience) : undefined;
  if (request.audience && !api) return undefined;
  return { request, client, api };
}

/** The login transaction of a hosted-page request, or a reason why there is none. */
export async function loadTransaction(
  request: FastifyRequest,
  ctx: ServerContext,
  state: string | undefined,
  submittedCsrf?: string,
): Promise<{ tx: LoginTransaction; input: FlowInput } | { problem: 'expired' | 'csrf' }> {
  if (!state || state.length > 64) return { problem: 'expired' };
  const tx = await ctx.storage.loginTransactions.get(state);
  if (!tx || Date.parse(tx.expiresAt) <= ctx.now()) return { problem: 'expired' };
  // Double submit: the cookie binds the transaction to this browser, the form field to this page.
  if (!sameSecret(request.cookies[transactionCookie(tx.id)], tx.csrf)) return { problem: 'csrf' };
  if (submittedCsrf !== undefined && !sameSecret(submittedCsrf, tx.csrf)) return { problem: 'csrf' };
  const input = await flowInputFor(ctx, tx.request);
  return input ? { tx, input } : { problem: 'expired' };
}

export async function sendTransactionProblem(reply: FastifyReply, ctx: ServerContext, problem: 'expired' | 'csrf') {
  const branding = await tenantBranding(ctx.lookups);
  return problem === 'expired'
    ? sendPage(
        reply,
        errorPage(
          branding,
          'Sign-in expired',
          'This sign-in link is no longer valid. Go back to the application and try again.',
          'invalid_transaction',
        ),
        400,
      )
    : sendPage(
        reply,
        errorPage(
          branding,
          'Something went wrong',
          'The form could not be verified. Go back to the application and try again.',
          'invalid_csrf_token',
        ),
        403,
      );
}

/** The authorization response (or error) travels back by the request's response mode. */
export async function sendAuthorizationResult(
  reply: FastifyReply,
  ctx: ServerContext,
  request: Pick<AuthorizationRequest, 'redirectUri' | 'responseMode'>,
  params: Record<string, string>,
): Promise<FastifyReply> {
  const { redirectUri, responseMode } = request;
  switch (responseMode) {
    case 'form_post':
      return sendPage(reply, formPostPage(await tenantBranding(ctx.lookups), redirectUri, params), 200, { formTargets: [redirectUri] });
    case 'web_message': {
      const origin = new URL(redirectUri).origin;
      return sendPage(reply, webMessagePage(await tenantBranding(ctx.lookups), origin, params), 200, { frameAncestor: origin });
    }
    case 'fragment':
      return reply.header('cache-control', 'no-store').redirect(`${redirectUri.split('#')[0]}#${new URLSearchParams(params)}`, 302);
    default: {
      const separator = redirectUri.includes('?') ? '&' : '?';
      return reply.header('cache-control', 'no-store').redirect(`${redirectUri}${separator}${new URLSearchParams(params)}`, 302);
    }
  }
}

export function errorParams(error: AuthorizeError, request: Partial<AuthorizationRequest>, issuer: string): Record<string, string> {
  return {
    error: error.error,
    error_description: error.description,
    ...(request.state !== undefined ? { state: request.state } : {}),
    iss: issuer,
  };
}

/** Carries out what the sign-in flow decided. */
export async function sendNextStep(reply: FastifyReply, ctx: ServerContext, step: NextStep, request: AuthorizationRequest) {
  switch (step.kind) {
    case 'respond':
      return sendAuthorizationResult(reply, ctx, request, step.params);
    case 'error':
      return sendAuthorizationResult(reply, ctx, request, errorParams(step.error, request, ctx.issuer));
    case 'login':
    case 'consent': {
      // The cookie lasts as long as the transaction may, once its page is shown (transactionShown).
      const maxAge = Math.max(1, Math.floor((Date.parse(step.tx.createdAt) + LOGIN_TRANSACTION_LIFETIME_MS - ctx.now()) / 1000));
      // Lax even on https: the hosted pages are top-level, and an upstream provider returns to
      // /login/callback by a top-level GET, which Lax cookies accompany.
      reply.setCookie(transactionCookie(step.tx.id), step.tx.csrf, { ...cookieOptions(ctx, maxAge), sameSite: 'lax' });
      const page = step.kind === 'consent' ? 'consent' : step.tx.request.screenHint === 'signup' ? 'signup' : 'login';
      return reply.header('cache-control', 'no-store').redirect(`/u/${page}?state=${encodeURIComponent(step.tx.id)}`, 302);
    }
  }
}

/** Who signed in, through which connection, for which pending request. */
export interface CompletedSignIn {
  tx: LoginTransaction;
  input: FlowInput;
  user: User;
  /** The connection the user signed in through: the session serves only clients that may use it. */
  connection: string;
  /** An upstream OIDC provider's id_token, kept (sealed) for a later federated logout. */
  upstreamIdToken?: string;
}

/**
 * A new SSO session for the user (replacing any other), then what the transaction was for. The
 * session records the connection it came through (database or upstream), and an upstream
 * provider's id_token sealed, for a later federated logout.
 */
export async function signInAndContinue(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: ServerContext,
  signIn: CompletedSignIn,
): Promise<FastifyReply> {
  const { tx, input, user } = signIn;
  const settings = await ctx.lookups.tenantSettings();
  await endSession(ctx.storage, request.cookies[SESSION_COOKIE], ctx.now());
  const { cookieValue, session } = await createSession(ctx.storage, {
    userId: user.user_id,
    settings,
    now: ctx.now(),
    connection: signIn.connection,
    ...(signIn.upstreamIdToken
      ? { upstreamIdToken: ctx.secrets.encrypt(signIn.upstreamIdToken, upstreamIdTokenContext(user.user_id)) }
      : {}),
  });
  if (await passwordChangedSince(ctx.storage, user)) {
    await endSession(ctx.storage, cookieValue, ctx.now());
    return sendTransactionProblem(reply, ctx, 'expired');
  }
  setSessionCookie(reply, ctx, cookieValue, settings.session_lifetime);
  if (tx.device) {
    await ctx.storage.loginTransactions.delete(tx.id);
    return reply.redirect(`/activate/confirm?user_code=${encodeURIComponent(tx.device.userCode)}`, 302);
  }
  const continued = { ...input, http: actionRequestInfo(request) };
  return sendNextStep(reply, ctx, await afterSignIn(ctx, continued, { user, session }, tx), tx.request);
}
