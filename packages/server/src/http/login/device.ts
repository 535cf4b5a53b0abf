import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { newTransaction } from '../../login/authorization-flow.js';
import { describeScopes, recordConsent } from '../../login/consent.js';
import { formatUserCode, normalizeUserCode } from '../../oauth/device.js';
import type { AuthorizationRequest, DeviceCodeRecord, LoginTransaction } from '../../storage/types.js';
import { sendPage, tenantBranding } from './html-response.js';
import { cookieOptions, field, issueCsrfCookie, sameSecret } from './form.js';
import { sendNextStep, signedInFrom } from './next-step.js';
import { activatePage, deviceConfirmPage, deviceDonePage } from './views/pages.js';

const CSRF_COOKIE = 'latchkey_activate';
/** Wrong codes per IP per hour before /activate stops answering: 20^8 codes make guessing hopeless anyway. */
const WRONG_CODES = { max: 50, windowMs: 60 * 60_000 };

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

  /** A pending, unexpired request for this code, or why there is none. */
  async function pendingRequest(input: string | undefined): Promise<{ hash: string; record: DeviceCodeRecord } | string> {
    const code = input ? normalizeUserCode(input) : undefined;
    const found = code ? await ctx.storage.findDeviceCodeByUserCode(code) : undefined;
    if (!found || found.record.status !== 'pending' || Date.parse(found.record.expiresAt) <= ctx.now()) {
      return 'That code is not valid or has expired. Check the code on your device and try again.';
    }
    return { hash: found.deviceCodeHash, record: found.record };
  }

  async function showConfirm(request: FastifyRequest, reply: FastifyReply, record: DeviceCodeRecord) {
    const signedIn = (await signedInFrom(request, ctx))!;
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
    const throttleKey = `activate:${request.ip}`;
    const throttle = await ctx.storage.getLoginThrottle(throttleKey);
    if (throttle?.lockedUntil && Date.parse(throttle.lockedUntil) > ctx.now()) {
      return showEntry(reply, 429, typed, 'Too many wrong codes. Try again later.');
    }
    const found = await pendingRequest(typed);
    if (typeof found === 'string') {
      const nowIso = new Date(ctx.now()).toISOString();
      const { failures } = await ctx.storage.recordLoginFailure(throttleKey, nowIso, new Date(ctx.now() - WRONG_CODES.windowMs).toISOString());
      if (failures >= WRONG_CODES.max) await ctx.storage.lockLogin(throttleKey, new Date(ctx.now() + WRONG_CODES.windowMs).toISOString());
      return showEntry(reply, 400, typed, found);
    }
    if (await signedInFrom(request, ctx)) return showConfirm(request, reply, found.record);

    // Not signed in: the ordinary login transaction, which continues at the confirmation instead.
    const signInRequest: AuthorizationRequest = {
      clientId: found.record.clientId,
      redirectUri: `${ctx.issuer}activate`,
      responseType: 'code',
      responseMode: 'query',
      scope: found.record.scope,
      ...(found.record.audience ? { audience: found.record.audience } : {}),
      prompt: [],
    };
    const tx: LoginTransaction = { ...newTransaction(signInRequest, ctx.now()), device: { userCode: found.record.userCode } };
    await ctx.storage.putLoginTransaction(tx);
    return sendNextStep(reply, ctx, { kind: 'login', tx }, tx.request);
  });

  app.get('/activate/confirm', async (request, reply) => {
    const found = await pendingRequest(shortField(request.query, 'user_code'));
    if (typeof found === 'string') return showEntry(reply, 400, undefined, found);
    if (!(await signedInFrom(request, ctx))) return showEntry(reply, 200, formatUserCode(found.record.userCode));
    return showConfirm(request, reply, found.record);
  });

  app.post('/activate/confirm', async (request, reply) => {
    if (!csrfValid(request)) return showEntry(reply, 403, undefined, 'The form expired. Enter the code again.');
    const signedIn = await signedInFrom(request, ctx);
    const found = await pendingRequest(shortField(request.body, 'user_code'));
    if (typeof found === 'string') return showEntry(reply, 400, undefined, found);
    if (!signedIn) return showEntry(reply, 200, formatUserCode(found.record.userCode));
    const approved = shortField(request.body, 'action') === 'confirm';
    const decided = approved
      ? await ctx.storage.decideDeviceCode(found.hash, 'approved', {
          userId: signedIn.user.user_id,
          sid: signedIn.session.sid,
          authTime: signedIn.session.authTime,
        })
      : await ctx.storage.decideDeviceCode(found.hash, 'denied');
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
