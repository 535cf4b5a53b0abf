import { randomBytes } from 'node:crypto';
import type { ActionRequestInfo } from '../actions/flows.js';
import type { AuthorizationRequest, Client, LoginTransaction, ResourceServer, Session, User } from '../domain/types.js';
import { recordEvent } from '../events/emit.js';
import { AuthorizeError } from '../oauth/authorize/index.js';
import { authorizationResponse } from '../oauth/authorize/respond.js';
import { OAuthError } from '../oauth/errors.js';
import type { GrantContext } from '../oauth/grants/types.js';
import { sessionServes } from './connection-access.js';
import { consentNeeded, recordConsent } from './consent.js';

/** A sign-in in progress may wait this long for the user (Auth0 allows about as much). */
export const LOGIN_TRANSACTION_LIFETIME_MS = 60 * 60_000;
/**
 * Until its page has been shown, a transaction started by an anonymous /authorize is kept this
 * long only: a browser follows the redirect at once, a script flooding /authorize does not.
 */
export const UNSHOWN_TRANSACTION_LIFETIME_MS = 10 * 60_000;

/**
 * What /authorize does next, decided without HTTP: answer the client (success or error), or keep
 * the request in a login transaction and ask the user to sign in or to consent.
 */
export type NextStep =
  | { kind: 'respond'; params: Record<string, string> }
  | { kind: 'error'; error: AuthorizeError }
  | { kind: 'login'; tx: LoginTransaction }
  | { kind: 'consent'; tx: LoginTransaction };

export interface SignedIn {
  user: User;
  session: Session;
}

export interface FlowInput {
  request: AuthorizationRequest;
  client: Client;
  api: ResourceServer | undefined;
  /** The HTTP request that continues the flow, for the post-login Actions' `event.request`. */
  http?: ActionRequestInfo;
}

/** Where an anonymous /authorize came from, and how many pending sign-ins that source may hold. */
export interface TransactionSource {
  source: string;
  maxPending: number;
}

/**
 * Whether the SSO session may answer this request without asking for a password: not when the
 * request asks for a fresh login, and only for a client that may use the session's connection.
 */
async function sessionSatisfies(ctx: GrantContext, input: FlowInput, signedIn: SignedIn): Promise<boolean> {
  const { request, client } = input;
  if (signedIn.user.blocked) return false;
  if (request.prompt.includes('login')) return false;
  if (request.maxAge !== undefined && ctx.now() - Date.parse(signedIn.session.authTime) > request.maxAge * 1000) return false;
  return sessionServes(ctx.lookups, signedIn.session, { client, connection: request.connection });
}

/** A pending sign-in: its id travels in URLs, its CSRF secret in a cookie and the forms. */
export function newTransaction(request: AuthorizationRequest, now: number, lifetimeMs = LOGIN_TRANSACTION_LIFETIME_MS): LoginTransaction {
  return {
    id: randomBytes(24).toString('base64url'),
    csrf: randomBytes(24).toString('base64url'),
    request,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + lifetimeMs).toISOString(),
  };
}

/**
 * Stores a transaction an anonymous request started: short-lived until shown, and capped per
 * source (the ones nearest to expiry give way), so a flood from one address holds a bounded
 * number of rows.
 */
export async function storeAnonymousTransaction(
  ctx: GrantContext,
  tx: LoginTransaction,
  origin: TransactionSource,
): Promise<LoginTransaction> {
  const sourced = {
    ...tx,
    expiresAt: new Date(Math.min(Date.parse(tx.expiresAt), ctx.now() + UNSHOWN_TRANSACTION_LIFETIME_MS)).toISOString(),
    source: origin.source,
  };
  await ctx.storage.loginTransactions.put(sourced);
  await ctx.storage.loginTransactions.trim(origin.source, origin.maxPending, sourced.id);
  return sourced;
}

/** Its page is being shown to someone: the transaction now gets its full lifetime (written once). */
export async function transactionShown(ctx: GrantContext, tx: LoginTransaction): Promise<LoginTransaction> {
  const fullExpiry = new Date(Date.parse(tx.createdAt) + LOGIN_TRANSACTION_LIFETIME_MS).toISOString();
  if (tx.expiresAt >= fullExpiry) return tx;
  const shown = { ...tx, expiresAt: fullExpiry };
  await ctx.storage.loginTransactions.put(shown);
  return shown;
}

export async function startAuthorization(
  ctx: GrantContext,
  input: FlowInput,
  signedIn: SignedIn | undefined,
  origin: TransactionSource,
): Promise<NextStep> {
  const now = ctx.now();
  const { request } = input;
  if (!signedIn || !(await sessionSatisfies(ctx, input, signedIn))) {
    if (request.prompt.includes('none')) {
      recordEvent({ type: 'fsa', description: 'Login required', client_id: input.client.client_id, client_name: input.client.name });
      return { kind: 'error', error: new AuthorizeError('login_required', 'Login required') };
    }
    return {
      kind: 'login',
      tx: await storeAnonymousTransaction(ctx, newTransaction(request, now, UNSHOWN_TRANSACTION_LIFETIME_MS), origin),
    };
  }
  return afterSignIn(ctx, input, signedIn, undefined);
}

/** After the password (or the SSO session): consent if needed, else the authorization response. */
export async function afterSignIn(
  ctx: GrantContext,
  input: FlowInput,
  signedIn: SignedIn,
  tx: LoginTransaction | undefined,
): Promise<NextStep> {
  const { request, client, api } = input;
  if (await consentNeeded(ctx.storage, client, api, signedIn.user.user_id, request.scope, request.prompt)) {
    if (request.prompt.includes('none')) {
      if (tx) await ctx.storage.loginTransactions.delete(tx.id);
      return { kind: 'error', error: new AuthorizeError('consent_required', 'Consent required') };
    }
    const pending = { ...(tx ?? newTransaction(request, ctx.now())), userId: signedIn.user.user_id };
    await ctx.storage.loginTransactions.put(pending);
    return { kind: 'consent', tx: pending };
  }
  if (tx) await ctx.storage.loginTransactions.delete(tx.id);
  return respond(ctx, input, signedIn);
}

export async function afterConsent(
  ctx: GrantContext,
  input: FlowInput,
  signedIn: SignedIn,
  tx: LoginTransaction,
  accepted: boolean,
): Promise<NextStep> {
  await ctx.storage.loginTransactions.delete(tx.id);
  if (!accepted) return { kind: 'error', error: new AuthorizeError('access_denied', 'User did not authorize the request') };
  await recordConsent(ctx.storage, input.client, input.api, signedIn.user.user_id, input.request.scope, ctx.now());
  return respond(ctx, input, signedIn);
}

/** The authorization response; a post-login Action's denial (or failure) goes back to the app as access_denied. */
async function respond(ctx: GrantContext, input: FlowInput, signedIn: SignedIn): Promise<NextStep> {
  try {
    const { request, client, http } = input;
    // event.request.query: the authorization request's parameters, as the app sent them.
    const query = {
      client_id: request.clientId,
      redirect_uri: request.redirectUri,
      response_type: request.responseType,
      scope: request.scope.join(' '),
      ...(request.audience ? { audience: request.audience } : {}),
      ...(request.connection ? { connection: request.connection } : {}),
      ...(request.prompt.length > 0 ? { prompt: request.prompt.join(' ') } : {}),
    };
    const requestInfo = { ...http, query };
    const params = await authorizationResponse(ctx, request, client, signedIn.user, signedIn.session, requestInfo);
    // Auth0 records a login when the app gets its answer: `ssa` for a silent one (prompt=none).
    recordEvent({
      type: request.prompt.includes('none') ? 'ssa' : 's',
      client_id: client.client_id,
      client_name: client.name,
      user_id: signedIn.user.user_id,
      user_name: signedIn.user.email ?? signedIn.user.username ?? signedIn.user.user_id,
      ...(signedIn.session.connection ? { connection: signedIn.session.connection } : {}),
      ...(request.audience ? { audience: request.audience } : {}),
      scope: request.scope.join(' '),
      details: { prompts: request.prompt, session_id: signedIn.session.sid },
    });
    return { kind: 'respond', params };
  } catch (error) {
    if (error instanceof OAuthError && error.error === 'access_denied') {
      return { kind: 'error', error: new AuthorizeError('access_denied', error.description) };
    }
    throw error;
  }
}
