import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { completeUpstreamLogin, upstreamAuthorization, UpstreamLoginError, type UpstreamContext } from '../../connections/upstream.js';
import { AuthorizeError } from '../../oauth/authorize/index.js';
import { usableUpstreamConnection } from '../../login/connection-access.js';
import type { Connection, LoginTransaction } from '../../storage/types.js';
import { field } from './form.js';
import { loadTransaction, sendNextStep, sendTransactionProblem, signInAndContinue } from './next-step.js';

export function upstreamContext(ctx: ServerContext, request: FastifyRequest): UpstreamContext {
  return {
    issuer: ctx.issuer,
    storage: ctx.storage,
    secrets: ctx.secrets,
    now: ctx.now,
    log: (message, data, level = 'warn') => request.log[level](data, message),
  };
}

/** Ends the app's request with the upstream failure, by its response mode, as Auth0 does. */
async function failToApp(reply: FastifyReply, ctx: ServerContext, tx: LoginTransaction, error: UpstreamLoginError) {
  await ctx.storage.deleteLoginTransaction(tx.id);
  return sendNextStep(reply, ctx, { kind: 'error', error: new AuthorizeError(error.error, error.description) }, tx.request);
}

/** Sends the browser to the provider; the transaction id is the upstream `state`. */
export async function redirectUpstream(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, tx: LoginTransaction, connection: Connection) {
  let authorization;
  try {
    authorization = await upstreamAuthorization(upstreamContext(ctx, request), connection, tx.id);
  } catch (err) {
    if (err instanceof UpstreamLoginError) return failToApp(reply, ctx, tx, err);
    throw err;
  }
  const { url, ...pending } = authorization;
  await ctx.storage.putLoginTransaction({ ...tx, upstream: { connection: connection.name, ...pending } });
  return reply.header('cache-control', 'no-store').redirect(url, 302);
}

/** `/u/upstream` (a button on the login page) and `/login/callback` (the provider's redirect). */
export async function upstreamRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/u/upstream', async (request, reply) => {
    const loaded = await loadTransaction(request, ctx, field(request.query, 'state'));
    if ('problem' in loaded) return sendTransactionProblem(reply, ctx, loaded.problem);
    const connection = await usableUpstreamConnection(ctx.lookups, loaded.input.client, field(request.query, 'connection'));
    if (!connection) return sendTransactionProblem(reply, ctx, 'expired');
    return redirectUpstream(request, reply, ctx, loaded.tx, connection);
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/login/callback', async (request, reply) => {
    const query = request.query;
    const loaded = await loadTransaction(request, ctx, typeof query.state === 'string' ? query.state : undefined);
    if ('problem' in loaded) return sendTransactionProblem(reply, ctx, loaded.problem);
    const { tx, input } = loaded;
    const pending = tx.upstream;
    const connection = pending ? await usableUpstreamConnection(ctx.lookups, input.client, pending.connection) : undefined;
    if (!pending || !connection) return sendTransactionProblem(reply, ctx, 'expired');
    // The transaction is spent whatever happens: an upstream code must not be replayable here.
    const { upstream: _spent, ...rest } = tx;
    await ctx.storage.putLoginTransaction(rest);
    try {
      const { user, idToken } = await completeUpstreamLogin(upstreamContext(ctx, request), connection, pending, {
        ...(typeof query.code === 'string' ? { code: query.code } : {}),
        ...(typeof query.error === 'string' ? { error: query.error } : {}),
        ...(typeof query.error_description === 'string' ? { error_description: query.error_description } : {}),
      });
      return await signInAndContinue(request, reply, ctx, { tx: rest, input, user, connection: connection.name, ...(idToken ? { upstreamIdToken: idToken } : {}) });
    } catch (err) {
      if (err instanceof UpstreamLoginError) {
        request.log.warn({ connection: connection.name, error: err.error, description: err.description }, 'upstream sign-in failed');
        return failToApp(reply, ctx, tx, err);
      }
      throw err;
    }
  });
}
