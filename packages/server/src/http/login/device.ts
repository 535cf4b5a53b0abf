import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { lockHeaders } from '../../connections/database.js';
import { addressDigest } from '../../login/address.js';
import { newTransaction, storeAnonymousTransaction, type SignedIn } from '../../login/authorization-flow.js';
import { sessionServes } from '../../login/connection-access.js';
import { describeScopes, recordConsent } from '../../login/consent.js';
import { formatUserCode, lookUpUserCode } from '../../oauth/device.js';
import type { AuthorizationRequest, DeviceCodeRecord } from '../../domain/types.js';
import { sendPage, tenantBranding } from './html-response.js';
import { cookieOptions, field, issueCsrfCookie, sameSecret } from './form.js';
import { sendNextStep, signedInFrom } from './next-step.js';
import { activatePage, deviceConfirmPage, deviceDonePage } from './views/pages.js';

const CSRF_COOKIE = 'latchkey_activate';
const INVALID_CODE = 'That code is not valid or has expired. Check the code on your device and try again.';

/** Codes and CSRF tokens are short; anything longer is not one. */
const shortField = (body: unknown, name: string) => field(body, name, 64);

/** The device flow's pages (RFC 8628 §3.3): enter the code, sign in, confirm. */
export async function deviceActivationPages(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const issueCsrf = (reply: FastifyReply) => issueCsrfCookie(reply, ctx, CSRF_COOKIE, '/activate', 3600);
  const csrfValid = (request: FastifyRequest) => sameSecret(shortField(request.body, 'csrf'), request.cookies[CSRF_COOKIE]);

  async function showEntry(reply: FastifyReply, status: number, userCode?: string, error?: string) {
    const branding = await tenantBranding(ctx.lookups);
    const page = activatePage({ branding, csrf: issueCsrf(reply), ...(userCode ? { userCode } : {}), ...(error ? { error } : {}) });
    return sendPage(reply, page, status);
  }

  /**
   * The pending request for a typed code, counted against the address before it is checked; or
   * the entry page saying why there is none, already sent (`answered`).
   */
  async function pendingRequest(
    request: FastifyRequest,
    reply: FastifyReply,
    typed: string | undefined,
  ): Promise<{ hash: string; record: DeviceCodeRecord; answered?: undefined } | { answered: FastifyReply }> {
    const lookup = await lookUpUserCode(ctx.storage, { userCode: typed, ip: request.ip, now: ctx.now() });
    if ('found' in lookup) return { hash: lookup.found.deviceCodeHash, record: lookup.found.record };
    if (lookup.refused === 'locked') {
      reply.headers(lockHeaders(lookup, ctx.now()));
      return { answered: await showEntry(reply, 429, typed, 'Too many wrong codes. Try again later.') };
    }
    return { answered: await showEntry(reply, 400, typed, INVALID_CODE) };
  }

  /** The signed-in user, if the session may answer the device's app: else the user signs in again. */
  async function signedInFor(request: FastifyRequest, record: DeviceCodeRecord): Promise<SignedIn | undefined> {
    const signedIn = await signedInFrom(request, ctx);
    const client = (await ctx.lookups.client(record.clientId))?.client;
    if (!signedIn || !client) return undefined;
    return (await sessionServes(ctx.lookups, signedIn.session, { client })) ? signedIn : undefined;
  }

  async function showConfirm(reply: FastifyReply, record: DeviceCodeRecord, signedIn: SignedIn) {
    const client = (await ctx.lookups.client(record.clientId))?.client;
    const api = record.audience ? await ctx.lookups.resourceServer(record.audience) : undefined;
    const page = deviceConfirmPage({
      branding: await tenantBranding(ctx.lookups),
      csrf: issueCsrf(reply),
      clientName: client?.name || 'the device',
      userCode: formatUserCode(record.userCode),
      userName: signedIn.user.email ?? signedIn.user.name ?? signedIn.user.user_id,
      scopes: describeScopes(record.scope, api),
    });
    return sendPage(reply, page);
  }

  app.get('/activate', async (request, reply) => showEntry(reply, 200, shortField(request.query, 'user_code')));

  app.post('/activate', async (request, reply) => {
    const typed = shortField(request.body, 'user_code');
    if (!csrfValid(request)) return showEntry(reply, 403, typed, 'The form expired. Enter the code again.');
    const found = await pendingRequest(request, reply, typed);
    if (found.answered) return found.answered;
    const signedIn = await signedInFor(request, found.record);
    if (signedIn) return showConfirm(reply, found.record, signedIn);

    // Not signed in (or not through a connection this app may use): the ordinary login
    // transaction, which continues at the confirmation instead.
    const signInRequest: AuthorizationRequest = {
      clientId: found.record.clientId,
      redirectUri: `${ctx.issuer}activate`,
      responseType: 'code',
      responseMode: 'query',
      scope: found.record.scope,
      ...(found.record.audience ? { audience: found.record.audience } : {}),
      prompt: [],
    };
    // Anyone holding a live user code (any device can ask for one) may post this form again and
    // again: stored as /authorize's anonymous transactions are, short-lived and capped per address.
    const tx = await storeAnonymousTransaction(ctx, { ...newTransaction(signInRequest, ctx.now()), device: { userCode: found.record.userCode } }, {
      source: addressDigest(request.ip),
      maxPending: ctx.config.loginTransactionsPerIp,
    });
    return sendNextStep(reply, ctx, { kind: 'login', tx }, tx.request);
  });

  app.get('/activate/confirm', async (request, reply) => {
    const found = await pendingRequest(request, reply, shortField(request.query, 'user_code'));
    if (found.answered) return found.answered;
    const signedIn = await signedInFor(request, found.record);
    if (!signedIn) return showEntry(reply, 200, formatUserCode(found.record.userCode));
    return showConfirm(reply, found.record, signedIn);
  });

  app.post('/activate/confirm', async (request, reply) => {
    if (!csrfValid(request)) return showEntry(reply, 403, undefined, 'The form expired. Enter the code again.');
    const found = await pendingRequest(request, reply, shortField(request.body, 'user_code'));
    if (found.answered) return found.answered;
    const signedIn = await signedInFor(request, found.record);
    if (!signedIn) return showEntry(reply, 200, formatUserCode(found.record.userCode));
    const approved = shortField(request.body, 'action') === 'confirm';
    const decided = approved
      ? await ctx.storage.deviceCodes.decide(found.hash, 'approved', {
          userId: signedIn.user.user_id,
          sid: signedIn.session.sid,
          authTime: signedIn.session.authTime,
        })
      : await ctx.storage.deviceCodes.decide(found.hash, 'denied');
    if (!decided) return showEntry(reply, 400, undefined, 'That code was already used.');
    if (approved) {
      const client = (await ctx.lookups.client(found.record.clientId))?.client;
      const api = found.record.audience ? await ctx.lookups.resourceServer(found.record.audience) : undefined;
      if (client) await recordConsent(ctx.storage, client, api, signedIn.user.user_id, found.record.scope, ctx.now());
    }
    reply.clearCookie(CSRF_COOKIE, cookieOptions(ctx, 0, '/activate'));
    return sendPage(reply, deviceDonePage(await tenantBranding(ctx.lookups), approved));
  });
}
