import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lockHeaders } from '../../connections/database.js';
import type { ServerContext } from '../../context.js';
import { answerUserCode, type DeviceApprovalStep, enterUserCode, reviewUserCode } from '../../login/device-approval.js';
import { cookieOptions, field, issueCsrfCookie, sameSecret } from './form.js';
import { sendPage, tenantBranding } from './html-response.js';
import { sendNextStep, signedInFrom } from './next-step.js';
import { activatePage, deviceConfirmPage, deviceDonePage } from './views/pages.js';

const CSRF_COOKIE = 'latchkey_activate';

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

  /** Carries out what the approval decided. */
  async function show(reply: FastifyReply, step: DeviceApprovalStep) {
    switch (step.show) {
      case 'entry':
        if (step.lock) reply.headers(lockHeaders(step.lock, ctx.now()));
        return showEntry(reply, step.status, step.userCode, step.error);
      case 'confirm': {
        const branding = await tenantBranding(ctx.lookups);
        return sendPage(reply, deviceConfirmPage({ branding, csrf: issueCsrf(reply), ...step.confirmation }));
      }
      case 'sign-in':
        return sendNextStep(reply, ctx, { kind: 'login', tx: step.tx }, step.tx.request);
      case 'done':
        reply.clearCookie(CSRF_COOKIE, cookieOptions(ctx, 0, '/activate'));
        return sendPage(reply, deviceDonePage(await tenantBranding(ctx.lookups), step.approved));
    }
  }

  const approvalInput = (request: FastifyRequest, userCode: string | undefined) => ({
    userCode,
    ip: request.ip,
    signedIn: () => signedInFrom(request, ctx),
  });

  app.get('/activate', async (request, reply) => showEntry(reply, 200, shortField(request.query, 'user_code')));

  app.post('/activate', async (request, reply) => {
    const typed = shortField(request.body, 'user_code');
    if (!csrfValid(request)) return showEntry(reply, 403, typed, 'The form expired. Enter the code again.');
    return show(reply, await enterUserCode(ctx, approvalInput(request, typed)));
  });

  app.get('/activate/confirm', async (request, reply) =>
    show(reply, await reviewUserCode(ctx, approvalInput(request, shortField(request.query, 'user_code')))),
  );

  app.post('/activate/confirm', async (request, reply) => {
    if (!csrfValid(request)) return showEntry(reply, 403, undefined, 'The form expired. Enter the code again.');
    const approve = shortField(request.body, 'action') === 'confirm';
    return show(reply, await answerUserCode(ctx, { ...approvalInput(request, shortField(request.body, 'user_code')), approve }));
  });
}
