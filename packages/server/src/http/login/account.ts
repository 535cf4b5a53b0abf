import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { databaseConnectionFor, lockHeaders } from '../../connections/database.js';
import type { ServerContext } from '../../context.js';
import { DomainError } from '../../domain/errors.js';
import { passwordPolicyHint } from '../../domain/password-policy.js';
import type { TicketRecord } from '../../domain/ticket-types.js';
import { inspectTicket } from '../../domain/tickets.js';
import type { AuthorizationRequest } from '../../domain/types.js';
import { requestPasswordReset, resetPassword, unblockAccount, verifyEmail } from '../../login/account-mail.js';
import { pageError } from '../errors.js';
import { cookieOptions, field, issueCsrfCookie, sameSecret } from './form.js';
import { sendPage, tenantBranding } from './html-response.js';
import { loadTransaction, sendTransactionProblem } from './next-step.js';
import {
  accountUnblockedPage,
  emailVerifiedPage,
  forgotPasswordPage,
  type LinkProblem,
  linkProblemPage,
  resetDonePage,
  resetLinkSentPage,
  resetPasswordPage,
} from './views/account-pages.js';

/** "Forgot password?" from the hosted login page (New Universal Login's path, without the connection). */
export const FORGOT_PASSWORD_PATH = '/u/reset-password/request';

const RESET_CSRF_COOKIE = 'latchkey_reset';
/** A loose check (the mail is the real test): something@something, as the login form asks for. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * The /authorize request a login transaction came from, as a URL on the issuer: after a reset asked
 * from the login page, "Continue" starts the same sign-in again (same client, redirect, state and
 * PKCE challenge), so the app still gets its answer. A device sign-in has no such way back.
 */
export function authorizeUrlFor(issuer: string, request: AuthorizationRequest): string {
  const params = new URLSearchParams({
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    response_type: request.responseType,
    response_mode: request.responseMode,
    scope: request.scope.join(' '),
  });
  const optional: Array<[string, string | undefined]> = [
    ['audience', request.audience],
    ['state', request.state],
    ['nonce', request.nonce],
    ['code_challenge', request.codeChallenge],
    ['code_challenge_method', request.codeChallenge ? 'S256' : undefined],
    ['connection', request.connection],
  ];
  for (const [name, value] of optional) if (value !== undefined) params.set(name, value);
  return `${issuer}authorize?${params}`;
}

/** Auth0's redirect after a ticket: to result_url, with the user's email when the ticket asked for it. */
function continueHref(record: TicketRecord, email: string | undefined, extra: Record<string, string> = {}): string | undefined {
  if (!record.resultUrl || !URL.canParse(record.resultUrl)) return undefined;
  const url = new URL(record.resultUrl);
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  if (record.includeEmailInRedirect && email) url.searchParams.set('email', email);
  return url.toString();
}

/**
 * The pages the account mails lead to: "Forgot password?" (the form and its answer), the reset page
 * a reset link opens, and the pages of the verification and unblock links. Tickets arrive in the
 * query (`?ticket=`); pages carrying one are never cached and send no Referer (sendPage).
 */
export async function accountPages(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const branding = () => tenantBranding(ctx.lookups);

  async function showProblem(reply: FastifyReply, problem: LinkProblem, purpose: 'reset' | 'verify' | 'unblock') {
    return sendPage(reply, linkProblemPage(await branding(), problem, purpose), problem === 'unknown' ? 400 : 410);
  }

  /** The login transaction and its database connection, or the page saying why there is none. */
  async function beginForgot(request: FastifyRequest, reply: FastifyReply, state: string | undefined, csrf?: string) {
    const loaded = await loadTransaction(request, ctx, state, csrf);
    if ('problem' in loaded) return void (await sendTransactionProblem(reply, ctx, loaded.problem));
    const connection = await databaseConnectionFor(ctx.lookups, loaded.input.client, loaded.tx.request.connection);
    if (!connection) return void (await sendTransactionProblem(reply, ctx, 'expired'));
    return { ...loaded, connection };
  }

  async function showForgot(
    reply: FastifyReply,
    loaded: NonNullable<Awaited<ReturnType<typeof beginForgot>>>,
    status = 200,
    error?: string,
    email?: string,
  ) {
    const { tx, input } = loaded;
    const page = forgotPasswordPage({
      branding: await branding(),
      clientName: input.client.name || 'the application',
      state: tx.id,
      csrf: tx.csrf,
      action: FORGOT_PASSWORD_PATH,
      loginHref: `/u/login?state=${encodeURIComponent(tx.id)}`,
      ...(error ? { error } : {}),
      ...(email ? { email } : {}),
    });
    return sendPage(reply, page, status);
  }

  app.get(FORGOT_PASSWORD_PATH, async (request, reply) => {
    const loaded = await beginForgot(request, reply, field(request.query, 'state'));
    if (!loaded) return reply;
    return showForgot(reply, loaded);
  });

  app.post(FORGOT_PASSWORD_PATH, async (request, reply) => {
    const body = request.body;
    const loaded = await beginForgot(request, reply, field(body, 'state'), field(body, 'csrf') ?? '');
    if (!loaded) return reply;
    const email = field(body, 'email', 254)?.trim();
    if (!email || !EMAIL.test(email)) return showForgot(reply, loaded, 400, 'Enter your email address.', email);
    const { tx, input, connection } = loaded;
    try {
      await requestPasswordReset(
        ctx,
        {
          email,
          connection,
          clientId: input.client.client_id,
          // Continue to the app: the same sign-in, started again (a device sign-in has no such way back).
          ...(tx.device ? {} : { resultUrl: authorizeUrlFor(ctx.issuer, tx.request) }),
          ip: request.ip,
        },
        request.log,
      );
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (err.details.lock) reply.headers(lockHeaders(err.details.lock, ctx.now()));
      const shown = pageError(err);
      return showForgot(reply, loaded, shown.status, shown.message, email);
    }
    return sendPage(reply, resetLinkSentPage(await branding(), email, `/u/login?state=${encodeURIComponent(tx.id)}`));
  });

  const issueResetCsrf = (reply: FastifyReply) => issueCsrfCookie(reply, ctx, RESET_CSRF_COOKIE, '/lo/reset', 3600);

  async function showResetForm(reply: FastifyReply, ticket: string, record: TicketRecord, status = 200, error?: string) {
    const found = await ctx.storage.users.get(record.userId);
    if (!found) return showProblem(reply, 'unknown', 'reset');
    const connection = await ctx.lookups.connection(found.connection);
    const page = resetPasswordPage({
      branding: await branding(),
      ticket,
      csrf: issueResetCsrf(reply),
      email: found.user.email ?? found.user.username ?? found.user.user_id,
      passwordHint: passwordPolicyHint(connection?.options ?? {}),
      ...(error ? { error } : {}),
    });
    return sendPage(reply, page, status);
  }

  // Auth0's classic reset link: /lo/reset?ticket=…#
  app.get('/lo/reset', async (request, reply) => {
    const ticket = field(request.query, 'ticket', 64);
    const seen = await inspectTicket(ctx.storage, ticket, 'reset', ctx.now());
    if (seen.state !== 'valid') return showProblem(reply, seen.state, 'reset');
    return showResetForm(reply, ticket!, seen.record);
  });

  app.post('/lo/reset', async (request, reply) => {
    const body = request.body;
    const ticket = field(body, 'ticket', 64);
    const seen = await inspectTicket(ctx.storage, ticket, 'reset', ctx.now());
    if (seen.state !== 'valid') return showProblem(reply, seen.state, 'reset');
    if (!sameSecret(field(body, 'csrf', 64), request.cookies[RESET_CSRF_COOKIE])) {
      return showResetForm(reply, ticket!, seen.record, 403, 'The form expired. Enter your new password again.');
    }
    const password = field(body, 'password', 1024);
    if (!password) return showResetForm(reply, ticket!, seen.record, 400, 'Enter a new password.');
    if (password !== field(body, 'password_confirmation', 1024)) {
      return showResetForm(reply, ticket!, seen.record, 400, 'The passwords do not match.');
    }
    const outcome = await resetPassword(ctx, ticket!, seen.record, password);
    if (!outcome.done) {
      if ('problem' in outcome) return showResetForm(reply, ticket!, seen.record, 400, outcome.problem);
      return showProblem(reply, outcome.ticket, 'reset');
    }
    reply.clearCookie(RESET_CSRF_COOKIE, cookieOptions(ctx, 0, '/lo/reset'));
    return sendPage(reply, resetDonePage(await branding(), continueHref(outcome.record, outcome.user.email)));
  });

  // New Universal Login's verification link: /u/email-verification?ticket=…#. Opening it verifies, as in Auth0.
  app.get('/u/email-verification', async (request, reply) => {
    const outcome = await verifyEmail(ctx, field(request.query, 'ticket', 64));
    if (!outcome.done) return showProblem(reply, outcome.ticket, 'verify');
    const message = 'Your email was verified. You can continue using the application.';
    const target = continueHref(outcome.record, outcome.user.email, { success: 'true', message });
    if (target) return reply.redirect(target, 302);
    return sendPage(reply, emailVerifiedPage(await branding(), outcome.user.email ?? ''));
  });

  // The blocked-account mail's link.
  app.get('/u/unblock', async (request, reply) => {
    const outcome = await unblockAccount(ctx, field(request.query, 'ticket', 64));
    if (!outcome.done) return showProblem(reply, outcome.ticket, 'unblock');
    return sendPage(reply, accountUnblockedPage(await branding()));
  });
}
