import { decodeJwt } from 'jose';
import { federatedLogoutUrl, type UpstreamContext } from '../connections/upstream.js';
import type { KeyRing } from '../crypto/keys.js';
import { recordEvent } from '../events/emit.js';
import { verifyOwnJwt } from '../oauth/own-jwt.js';
import { digestToken } from '../oauth/user-tokens.js';
import type { Lookups } from '../storage/cache.js';
import type { Storage } from '../storage/types.js';
import type { SignedIn } from './authorization-flow.js';
import { endSession } from './sessions.js';

/**
 * Whether a return URL after logout is registered. The comparison is exact, except that a query
 * string on the requested URL is allowed (Auth0 lets apps carry their own state there); the
 * registered URL itself must then have none.
 */
export function logoutUrlAllowed(allowed: readonly string[], requested: string): boolean {
  if (allowed.includes(requested)) return true;
  const queryAt = requested.indexOf('?');
  return queryAt > 0 && !requested.includes('#') && allowed.includes(requested.slice(0, queryAt));
}

/** The longest return URL accepted after logout: the registered part is at most 2048, the rest is the app's query. */
export const MAX_RETURN_URL_LENGTH = 4096;

/**
 * Why a requested return URL is refused before it is even compared, if it is. Control characters
 * (a newline is a header-injection attempt) have no place in a URL a browser sent.
 */
export function returnUrlProblem(name: string, url: string): string | undefined {
  if (url.length > MAX_RETURN_URL_LENGTH) return `The "${name}" URL is too long (at most ${MAX_RETURN_URL_LENGTH} characters).`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(url)) return `The "${name}" URL must not contain control characters.`;
  return undefined;
}

/**
 * The URL as a Location header can carry it: every byte outside printable ASCII (spaces, non-ASCII,
 * in the query an app added or in a registered URL with a Unicode host) is percent-encoded as
 * UTF-8, as a browser would; everything else is left exactly as the app sent it. Header values
 * must be Latin-1, so `€` unencoded would fail the response.
 */
export function percentEncodeForHeader(url: string): string {
  // Buffer.from replaces a lone surrogate by U+FFFD instead of throwing as encodeURI would.
  return url.replace(/[^\x21-\x7e]+/g, (run) =>
    [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

export interface IdTokenHint {
  clientId: string;
  userId: string;
  sid?: string;
}

/**
 * An id_token_hint must be one we signed; it may have expired (OIDC RP-Initiated Logout §2), so it is
 * verified as of its own issue time.
 */
export async function readIdTokenHint(keys: KeyRing, issuer: string, token: string): Promise<IdTokenHint | undefined> {
  try {
    const { iat } = decodeJwt(token);
    if (typeof iat !== 'number') return undefined;
    const payload = await verifyOwnJwt(keys, issuer, token, { currentDate: new Date(iat * 1000) });
    const clientId = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    if (typeof clientId !== 'string' || typeof payload.sub !== 'string') return undefined;
    return { clientId, userId: payload.sub, ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}) };
  } catch {
    return undefined;
  }
}

/** What logout needs: the client and tenant lists, the keys that signed id_token hints, the upstreams. */
export interface LogoutContext {
  issuer: string;
  lookups: Lookups;
  keys: KeyRing;
  /** For `federated`: the OIDC provider's logout endpoint, found by discovery. */
  upstream: UpstreamContext;
}

/**
 * What a logout request comes to, decided without HTTP. Logging out always ends this browser's SSO
 * session (the session cookie's), and only that one; the route ends it, then redirects or shows the
 * logged-out page.
 */
export type LogoutDecision =
  | { action: 'refuse'; description: string }
  /** Ask the user first; the form posts `fields` back (with a CSRF token) and may lead to `formTargets`. */
  | { action: 'confirm'; fields: Record<string, string>; formTargets: string[] }
  /** `confirmed`: a confirmation the user gave is used up. */
  | { action: 'log-out'; redirectTo?: string; confirmed: boolean; clientId?: string };

/** Ends the browser's session, and records the logout (Auth0's `slo`) when there was a live one. */
export async function logOut(
  { storage, lookups }: { storage: Pick<Storage, 'sessions'>; lookups: Lookups },
  cookieValue: string | undefined,
  now: number,
  clientId: string | undefined,
): Promise<void> {
  if (!cookieValue || cookieValue.length > 100) return;
  const session = await storage.sessions.get(digestToken(cookieValue));
  await endSession(storage, cookieValue, now);
  if (!session || session.endedAt !== null) return;
  const client = clientId !== undefined ? (await lookups.client(clientId))?.client : undefined;
  recordEvent({
    type: 'slo',
    user_id: session.userId,
    ...(session.connection ? { connection: session.connection } : {}),
    ...(client ? { client_id: client.client_id, client_name: client.name } : {}),
    details: { session_id: session.sid },
  });
}

const refuse = (description: string): LogoutDecision => ({ action: 'refuse', description });

/**
 * `federated` (Auth0): a session that came through an OIDC connection continues to that provider's
 * logout, which returns the browser to `back` when the provider has it registered.
 */
async function federatedTarget(
  ctx: LogoutContext,
  params: Record<string, string>,
  signedIn: SignedIn | undefined,
  back: { postLogoutRedirectUri?: string; state?: string },
): Promise<string | undefined> {
  const name = signedIn?.session.connection;
  if (params.federated === undefined || !signedIn || !name) return undefined;
  const connection = await ctx.lookups.connection(name);
  return connection && federatedLogoutUrl(ctx.upstream, connection, signedIn.session, back);
}

export interface LogoutInput {
  /** The request's single string parameters. */
  params: Record<string, string>;
  /** The browser's signed-in user, read only when the decision needs it. */
  signedIn: () => Promise<SignedIn | undefined>;
}

/**
 * Auth0's `/v2/logout?client_id&returnTo&federated`: returnTo must be one of the client's Allowed
 * Logout URLs, or the tenant's without a client_id; a client's first one is the default.
 */
export async function decideAuth0Logout(ctx: LogoutContext, { params, signedIn }: LogoutInput): Promise<LogoutDecision> {
  const { client_id: clientId, returnTo } = params;
  const problem = returnTo !== undefined ? returnUrlProblem('returnTo', returnTo) : undefined;
  if (problem) return refuse(problem);
  let allowed: string[];
  if (clientId !== undefined) {
    const client = (await ctx.lookups.client(clientId))?.client;
    if (!client) return refuse('Unknown client.');
    allowed = client.allowed_logout_urls;
  } else {
    allowed = (await ctx.lookups.tenantSettings()).allowed_logout_urls;
  }
  if (returnTo !== undefined && !logoutUrlAllowed(allowed, returnTo)) {
    return refuse(
      `The "returnTo" URL is not in the list of allowed logout URLs. ` +
        `Add ${returnTo} to the application's (or the tenant's) Allowed Logout URLs.`,
    );
  }
  const target = returnTo ?? (clientId !== undefined ? allowed[0] : undefined);
  const user = params.federated !== undefined ? await signedIn() : undefined;
  const upstream = await federatedTarget(ctx, params, user, target !== undefined ? { postLogoutRedirectUri: target } : {});
  const redirectTo = upstream ?? target;
  const client = clientId !== undefined ? { clientId } : {};
  return { action: 'log-out', ...(redirectTo !== undefined ? { redirectTo } : {}), confirmed: false, ...client };
}

/**
 * OIDC RP-Initiated Logout 1.0 (`/oidc/logout`): post_logout_redirect_uri must be registered for
 * the client named by id_token_hint or client_id. Without a hint for this very session, logout could
 * be forced on the user by any page, so the user is asked first (`confirmed` says they were).
 */
export async function decideOidcLogout(ctx: LogoutContext, input: LogoutInput & { confirmed: boolean }): Promise<LogoutDecision> {
  const { params } = input;
  const redirect = params.post_logout_redirect_uri;
  const problem = redirect !== undefined ? returnUrlProblem('post_logout_redirect_uri', redirect) : undefined;
  if (problem) return refuse(problem);
  const hint = params.id_token_hint ? await readIdTokenHint(ctx.keys, ctx.issuer, params.id_token_hint) : undefined;
  if (params.id_token_hint && !hint) return refuse('The id_token_hint is not a valid id_token of this tenant.');
  if (hint && params.client_id && params.client_id !== hint.clientId) return refuse('client_id does not match the id_token_hint.');
  const clientId = hint?.clientId ?? params.client_id;
  const client = clientId !== undefined ? (await ctx.lookups.client(clientId))?.client : undefined;
  if (clientId !== undefined && !client) return refuse('Unknown client.');

  let target: string | undefined;
  if (redirect !== undefined) {
    if (!client) return refuse('post_logout_redirect_uri needs an id_token_hint or a client_id.');
    if (!client.allowed_logout_urls.includes(redirect)) {
      return refuse(`The post_logout_redirect_uri is not in the application's Allowed Logout URLs: ${redirect}`);
    }
    const url = new URL(redirect);
    if (params.state !== undefined) url.searchParams.set('state', params.state);
    target = url.toString();
  }

  const signedIn = await input.signedIn();
  const back =
    redirect !== undefined ? { postLogoutRedirectUri: redirect, ...(params.state !== undefined ? { state: params.state } : {}) } : {};
  const redirectTo = (await federatedTarget(ctx, params, signedIn, back)) ?? target;
  const hinted =
    hint !== undefined &&
    signedIn !== undefined &&
    hint.userId === signedIn.user.user_id &&
    (!hint.sid || hint.sid === signedIn.session.sid);
  const mustConfirm = signedIn !== undefined && !hinted;
  if (mustConfirm && !input.confirmed) {
    const { action: _action, ...fields } = params;
    return { action: 'confirm', fields, formTargets: redirectTo !== undefined ? [redirectTo] : [] };
  }
  return {
    action: 'log-out',
    ...(redirectTo !== undefined ? { redirectTo } : {}),
    confirmed: mustConfirm,
    ...(clientId !== undefined ? { clientId } : {}),
  };
}
