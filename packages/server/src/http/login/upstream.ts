import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { completeUpstreamLogin, type UpstreamContext, UpstreamLoginError, upstreamAuthorization } from '../../connections/upstream.js';
import type { ServerContext } from '../../context.js';
import type { Connection, LoginTransaction } from '../../domain/types.js';
import { usableUpstreamConnection } from '../../login/connection-access.js';
import { AuthorizeError } from '../../oauth/authorize/index.js';
import { field } from './form.js';
import { sendPage, tenantBranding } from './html-response.js';
import { loadTransaction, sendNextStep, sendTransactionProblem, signInAndContinue } from './next-step.js';
import { errorPage } from './views/pages.js';

export function upstreamContext(ctx: ServerContext, request: FastifyRequest): UpstreamContext {
  return {
    issuer: ctx.issuer,
    storage: ctx.storage,
    secrets: ctx.secrets,
    now: ctx.now,
    log: (message, data, level = 'warn') => request.log[level](data, message),
  };
}

/**
 * Ends the sign-in with the upstream failure: to the app by its response mode, as Auth0 does; or,
 * for an answer that failed a check (mix-up, forged id_token), on latchkey's own error page.
 */
async function failUpstream(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: ServerContext,
  tx: LoginTransaction,
  error: UpstreamLoginError,
) {
  request.log.warn(
    { connection: tx.upstream?.connection, error: error.error, description: error.description, refused: error.refused },
    'upstream sign-in failed',
  );
  await ctx.storage.loginTransactions.delete(tx.id);
  if (error.refused) {
    const page = errorPage(
      await tenantBranding(ctx.lookups),
      'Sign-in refused',
      `It failed a security check, so no one was signed in. ${error.description}. ` +
        'Go back to the application and try again; if this persists, tell its administrator.',
      'invalid_upstream_response',
    );
    return sendPage(reply, page, 400);
  }
  return sendNextStep(reply, ctx, { kind: 'error', error: new AuthorizeError(error.error, error.description) }, tx.request);
}

/** Sends the browser to the provider; the transaction id is the upstream `state`. */
export async function redirectUpstream(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: ServerContext,
  tx: LoginTransaction,
  connection: Connection,
) {
  let authorization;
  try {
    authorization = await upstreamAuthorization(upstreamContext(ctx, request), connection, tx.id);
  } catch (err) {
    if (err instanceof UpstreamLoginError)
      return failUpstream(request, reply, ctx, { ...tx, upstream: { connection: connection.name } }, err);
    throw err;
  }
  const { url, ...pending } = authorization;
  await ctx.storage.loginTransactions.put({ ...tx, upstream: { connection: connection.name, ...pending } });
  return reply.header('cache-control', 'no-store').redirect(url, 302);
}

/** The provider's redirect as it came, repeats included: oauth4webapi refuses a repeated parameter. */
function callbackParams(query: Record<string, unknown>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) if (typeof item === 'string') params.append(key, item);
  }
  return params;
}

/** `/u/upstream` (a button on the login page) and `/login/callback` (the provider's redirect). */
export async function upstreamRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/u/upstream', async (request, reply) => {
    const loaded = await loadTransaction(request, ctx, field(request.query, 'state'));
    if ('problem' in loaded) return sendTransactionProblem(reply, ctx, loaded.problem);
    const named = field(request.query, 'connection');
    // A request naming its connection (connection=) is signed in through that one only, as the
    // login page offers no other: the app may rely on where its user signed in.
    const requested = loaded.tx.request.connection;
    const connection =
      requested === undefined || requested === named ? await usableUpstreamConnection(ctx.lookups, loaded.input.client, named) : undefined;
    if (!connection) return sendTransactionProblem(reply, ctx, 'expired');
    return redirectUpstream(request, reply, ctx, loaded.tx, connection);
  });

  app.get<{ Querystring: Record<string, string | string[] | undefined> }>('/login/callback', async (request, reply) => {
    const query = request.query;
    const loaded = await loadTransaction(request, ctx, typeof query.state === 'string' ? query.state : undefined);
    if ('problem' in loaded) return sendTransactionProblem(reply, ctx, loaded.problem);
    const { tx, input } = loaded;
    const pending = tx.upstream;
    const connection = pending ? await usableUpstreamConnection(ctx.lookups, input.client, pending.connection) : undefined;
    if (!pending || !connection) return sendTransactionProblem(reply, ctx, 'expired');
    // The transaction is spent whatever happens: an upstream code must not be replayable here.
    const { upstream: _spent, ...rest } = tx;
    await ctx.storage.loginTransactions.put(rest);
    try {
      const { user, idToken } = await completeUpstreamLogin(
        upstreamContext(ctx, request),
        connection,
        pending,
        callbackParams(query),
        tx.id,
      );
      return await signInAndContinue(request, reply, ctx, {
        tx: rest,
        input,
        user,
        connection: connection.name,
        ...(idToken ? { upstreamIdToken: idToken } : {}),
      });
    } catch (err) {
      if (err instanceof UpstreamLoginError) return failUpstream(request, reply, ctx, tx, err);
      throw err;
    }
  });
}
