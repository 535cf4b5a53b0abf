import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateDatabaseUser, databaseConnectionFor, lockHeaders } from '../../connections/database.js';
import type { ServerContext } from '../../context.js';
import { DomainError } from '../../domain/errors.js';
import { passwordPolicyHint } from '../../domain/password-policy.js';
import type { Connection, LoginTransaction, User } from '../../domain/types.js';
import { mailOnAccountLock, verifyAfterSignup } from '../../login/account-mail.js';
import { afterConsent, type FlowInput, transactionShown } from '../../login/authorization-flow.js';
import { sessionServes, upstreamConnectionsFor, usableUpstreamConnection } from '../../login/connection-access.js';
import { describeScopes, redirectDestination } from '../../login/consent.js';
import { signUp } from '../../login/signup.js';
import { actionRequestInfo } from '../action-request.js';
import { pageError } from '../errors.js';
import { FORGOT_PASSWORD_PATH } from './account.js';
import { field } from './form.js';
import { sendPage, tenantBranding } from './html-response.js';
import { loadTransaction, sendNextStep, sendTransactionProblem, signedInFrom, signInAndContinue } from './next-step.js';
import { redirectUpstream } from './upstream.js';
import { ASSETS } from './views/assets.js';
import { consentPage, errorPage, type FormContext, loginPage, signupPage } from './views/pages.js';

/** Universal Login: the login, sign-up and consent pages of a login transaction. */
export async function hostedPages(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const assets = new Map([ASSETS.stylesheet, ...Object.values(ASSETS.scripts)].map((a) => [a.path, a]));
  app.get<{ Params: { file: string } }>('/u/assets/:file', async (request, reply) => {
    const asset = assets.get(`/u/assets/${request.params.file}`);
    if (!asset) return reply.status(404).send({ error: 'not_found', error_description: 'Not Found' });
    return reply
      .headers({
        'content-type': asset.contentType,
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      })
      .send(asset.content);
  });

  async function formContext(tx: LoginTransaction, input: FlowInput, error?: string): Promise<FormContext> {
    return {
      branding: await tenantBranding(ctx.lookups),
      clientName: input.client.name || 'the application',
      state: tx.id,
      csrf: tx.csrf,
      ...(error ? { error } : {}),
    };
  }

  const security = (tx: LoginTransaction) => ({ formTargets: [tx.request.redirectUri] });

  async function noConnection(reply: FastifyReply, firstParty: boolean) {
    const branding = await tenantBranding(ctx.lookups);
    const description = firstParty
      ? 'No database connection is enabled for this application.'
      : 'Third-party applications can only sign in through domain connections, and this connection is not one.';
    return sendPage(reply, errorPage(branding, 'Sign-in unavailable', description, 'invalid_connection'), 400);
  }

  async function showLogin(
    reply: FastifyReply,
    tx: LoginTransaction,
    input: FlowInput,
    connection: Connection | undefined,
    status = 200,
    error?: string,
    email?: string,
    upstream: Connection[] = [],
  ) {
    const page = loginPage({
      ...(await formContext(tx, input, error)),
      passwordForm: connection !== undefined,
      upstream: upstream.map((c) => ({
        label: c.display_name || c.name,
        href: `/u/upstream?state=${encodeURIComponent(tx.id)}&connection=${encodeURIComponent(c.name)}`,
      })),
      signupAllowed: connection?.options.disable_signup !== true,
      ...(connection ? { forgotHref: `${FORGOT_PASSWORD_PATH}?state=${encodeURIComponent(tx.id)}` } : {}),
      ...((email ?? tx.request.loginHint) !== undefined ? { email: email ?? tx.request.loginHint } : {}),
    });
    return sendPage(reply, page, status, security(tx));
  }

  async function showSignup(
    reply: FastifyReply,
    tx: LoginTransaction,
    input: FlowInput,
    connection: Connection,
    status = 200,
    error?: string,
    email?: string,
    accountExists = false,
  ) {
    const page = signupPage({
      ...(await formContext(tx, input, error)),
      passwordHint: passwordPolicyHint(connection.options),
      accountExists,
      ...(email ? { email } : {}),
    });
    return sendPage(reply, page, status, security(tx));
  }

  /** Loads the transaction and its database connection, or answers with the reason there is none. */
  async function begin(request: FastifyRequest, reply: FastifyReply, state: string | undefined, csrf?: string) {
    const loaded = await loadTransaction(request, ctx, state, csrf);
    if ('problem' in loaded) {
      await sendTransactionProblem(reply, ctx, loaded.problem);
      return undefined;
    }
    const connection = await databaseConnectionFor(ctx.lookups, loaded.input.client, loaded.tx.request.connection);
    if (!connection) {
      await noConnection(reply, loaded.input.client.is_first_party);
      return undefined;
    }
    return { ...loaded, connection };
  }

  app.get<{ Querystring: { state?: string } }>('/u/login', async (request, reply) => {
    const loaded = await loadTransaction(request, ctx, field(request.query, 'state'));
    if ('problem' in loaded) return sendTransactionProblem(reply, ctx, loaded.problem);
    const { input } = loaded;
    const tx = await transactionShown(ctx, loaded.tx);
    // connection=NAME of an upstream provider skips the page altogether.
    const named = await usableUpstreamConnection(ctx.lookups, input.client, tx.request.connection);
    if (named) return redirectUpstream(request, reply, ctx, tx, named);
    const database = await databaseConnectionFor(ctx.lookups, input.client, tx.request.connection);
    const upstream = tx.request.connection === undefined ? await upstreamConnectionsFor(ctx.lookups, input.client) : [];
    if (!database && upstream.length === 0) return noConnection(reply, input.client.is_first_party);
    return showLogin(reply, tx, input, database, 200, undefined, undefined, upstream);
  });

  app.post('/u/login', async (request, reply) => {
    const body = request.body;
    const loaded = await begin(request, reply, field(body, 'state'), field(body, 'csrf') ?? '');
    if (!loaded) return reply;
    const { tx, input, connection } = loaded;
    const username = field(body, 'username', 254)?.trim();
    const password = field(body, 'password', 1024);
    if (!username || !password) return showLogin(reply, tx, input, connection, 400, 'Enter your email and password.', username);
    try {
      const onAccountLocked = mailOnAccountLock(ctx, request.log, input.client.client_id);
      const user = await authenticateDatabaseUser(ctx.storage, connection, username, password, request.ip, ctx.now(), {
        onAccountLocked,
        client: input.client,
      });
      return await signInAndContinue(request, reply, ctx, { tx, input, user, connection: connection.name });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (err.details.lock) reply.headers(lockHeaders(err.details.lock, ctx.now()));
      const shown = pageError(err);
      return showLogin(reply, tx, input, connection, shown.status, shown.message, username);
    }
  });

  app.get<{ Querystring: { state?: string } }>('/u/signup', async (request, reply) => {
    const loaded = await begin(request, reply, field(request.query, 'state'));
    if (!loaded) return reply;
    const tx = await transactionShown(ctx, loaded.tx);
    if (loaded.connection.options.disable_signup === true)
      return showLogin(reply, tx, loaded.input, loaded.connection, 403, 'Sign-up is disabled for this application.');
    return showSignup(reply, tx, loaded.input, loaded.connection);
  });

  app.post('/u/signup', async (request, reply) => {
    const body = request.body;
    const loaded = await begin(request, reply, field(body, 'state'), field(body, 'csrf') ?? '');
    if (!loaded) return reply;
    const { tx, input, connection } = loaded;
    // Browsers autofill with a stray space; the page forgives it.
    const email = field(body, 'email', 254)?.trim();
    const password = field(body, 'password', 1024);
    let user: User;
    try {
      const profile = { ...(email !== undefined ? { email } : {}), ...(password !== undefined ? { password } : {}) };
      const http = actionRequestInfo(request);
      ({ user } = await signUp(ctx, {
        client: input.client,
        connection: tx.request.connection,
        profile,
        ip: request.ip,
        request: http,
        signsIn: true,
      }));
    } catch (err) {
      // The domain's own codes (no parsing of messages): a taken email also offers to log in instead.
      if (!(err instanceof DomainError)) throw err;
      if (err.code === 'invalid_connection') return noConnection(reply, input.client.is_first_party);
      if (err.code === 'signup_disabled') return showLogin(reply, tx, input, connection, 403, 'Sign-up is disabled for this application.');
      if (err.code === 'missing_credentials') {
        return showSignup(reply, tx, input, connection, 400, 'Enter an email address and a password.', email);
      }
      if (err.details.lock) reply.headers(lockHeaders(err.details.lock, ctx.now()));
      const shown = pageError(err);
      return showSignup(reply, tx, input, connection, shown.status, shown.message, email, err.code === 'user_exists');
    }
    verifyAfterSignup(ctx, user, connection, input.client.client_id, request.log);
    return signInAndContinue(request, reply, ctx, { tx, input, user, connection: connection.name });
  });

  /**
   * The consent step belongs to the user who signed in for this transaction, in this browser, with
   * a session the app may still use (its connection may have been taken from the app meanwhile).
   */
  async function beginConsent(request: FastifyRequest, reply: FastifyReply, state: string | undefined, csrf?: string) {
    const loaded = await loadTransaction(request, ctx, state, csrf);
    if ('problem' in loaded) return void (await sendTransactionProblem(reply, ctx, loaded.problem));
    const signedIn = await signedInFrom(request, ctx);
    const serves =
      signedIn &&
      (await sessionServes(ctx.lookups, signedIn.session, { client: loaded.input.client, connection: loaded.tx.request.connection }));
    if (!loaded.tx.userId || !signedIn || signedIn.user.user_id !== loaded.tx.userId || !serves) {
      return void (await sendTransactionProblem(reply, ctx, 'expired'));
    }
    return { ...loaded, signedIn };
  }

  app.get<{ Querystring: { state?: string } }>('/u/consent', async (request, reply) => {
    const loaded = await beginConsent(request, reply, field(request.query, 'state'));
    if (!loaded) return reply;
    const { tx, input, signedIn } = loaded;
    const scopes = describeScopes(tx.request.scope, input.api);
    const links = input.client.client_metadata;
    const clientLinks = [
      { label: 'Website', href: links.client_uri },
      { label: 'Privacy policy', href: links.policy_uri },
      { label: 'Terms of service', href: links.tos_uri },
    ].filter((l): l is { label: string; href: string } => typeof l.href === 'string' && l.href.startsWith('https://'));
    const page = consentPage({
      ...(await formContext(tx, input)),
      userName: signedIn.user.email ?? signedIn.user.name ?? signedIn.user.user_id,
      scopes,
      clientLinks,
      ...(input.client.is_first_party ? {} : { unverified: { destination: redirectDestination(tx.request.redirectUri) } }),
    });
    return sendPage(reply, page, 200, security(tx));
  });

  app.post('/u/consent', async (request, reply) => {
    const body = request.body;
    const loaded = await beginConsent(request, reply, field(body, 'state'), field(body, 'csrf') ?? '');
    if (!loaded) return reply;
    const accepted = field(body, 'action') === 'accept';
    const input = { ...loaded.input, http: actionRequestInfo(request) };
    const step = await afterConsent(ctx, input, loaded.signedIn, loaded.tx, accepted);
    return sendNextStep(reply, ctx, step, loaded.tx.request);
  });
}
