import type { AccountLockedHook } from '../connections/database.js';
import type { ServerContext } from '../context.js';
import { hashPassword } from '../crypto/passwords.js';
import { DomainError } from '../domain/errors.js';
import { passwordProblem } from '../domain/password-policy.js';
import type { TicketPurpose, TicketRecord } from '../domain/ticket-types.js';
import { prepareTicket, storeTicket, type TicketState, useTicket } from '../domain/tickets.js';
import type { Connection, User } from '../domain/types.js';
import type { EmailTemplateName } from '../mail/types.js';
import type { Repositories } from '../storage/types.js';
import { countMailRequest } from './mail-limits.js';
import { signOutEverywhere } from './sessions.js';
import { throttleKeys } from './throttle.js';

/** What the account flows need of the server: storage, the mailer, the issuer, a clock and background tasks. */
export type AccountMailContext = Pick<ServerContext, 'storage' | 'lookups' | 'mail' | 'issuer' | 'now' | 'background' | 'digester'>;

/** Where a background task's failure goes (a request's or the app's logger). */
export interface FailureLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const TEMPLATE_OF: Record<TicketPurpose, EmailTemplateName> = {
  reset: 'reset_email',
  verify: 'verify_email',
  unblock: 'blocked_account',
};

export interface TicketMail {
  purpose: TicketPurpose;
  user: User;
  connection: string;
  clientId?: string | undefined;
  /** Overrides the template's resultUrl (a reset asked from the hosted login continues to the app). */
  resultUrl?: string | undefined;
}

/**
 * Queues the mail carrying a new ticket's link, and stores the ticket only if the mail was queued,
 * in one transaction: the mail exists iff its ticket does. The template's settings (Auth0's
 * urlLifetimeInSeconds, resultUrl, includeEmailInRedirect) shape the ticket. Resolves false when
 * the template is disabled or the outbox refused the mail.
 */
export async function sendTicketMail(ctx: AccountMailContext, mail: TicketMail): Promise<boolean> {
  const { user } = mail;
  const to = user.email;
  if (!to) return false;
  const template = TEMPLATE_OF[mail.purpose];
  return ctx.storage.transaction(async (tx) => {
    const settings = await ctx.mail.templateSettings(tx, template);
    if (!settings.enabled) return false;
    const prepared = prepareTicket(
      ctx.issuer,
      {
        purpose: mail.purpose,
        userId: user.user_id,
        email: to,
        connection: mail.connection,
        clientId: mail.clientId,
        resultUrl: mail.resultUrl ?? settings.resultUrl,
        // The way back into a sign-in (an /authorize URL) takes no extra parameters.
        includeEmailInRedirect: mail.resultUrl === undefined && settings.includeEmailInRedirect,
        ttlSeconds: settings.urlLifetimeInSeconds,
      },
      ctx.now(),
    );
    const queued = await ctx.mail.queue(tx, {
      template,
      to,
      user,
      connection: mail.connection,
      url: prepared.url,
      ...(mail.clientId ? { clientId: mail.clientId } : {}),
    });
    if (queued) await storeTicket(tx, prepared);
    return queued;
  });
}

export interface PasswordResetRequest {
  email: string;
  connection: Connection;
  clientId?: string | undefined;
  resultUrl?: string | undefined;
  ip: string;
}

/**
 * "Forgot password?" and `POST /dbconnections/change_password`. The limits are counted first, the
 * same for every address; whether the address belongs to anyone is only looked at afterwards, in
 * the background, so the answer and its timing are the same for a user and for a stranger. Throws
 * only the limits' 429.
 */
export async function requestPasswordReset(ctx: AccountMailContext, request: PasswordResetRequest, log: FailureLog): Promise<void> {
  await countMailRequest(ctx, { ip: request.ip, email: request.email }, ctx.now());
  ctx.background.run(
    async () => {
      const record = await ctx.storage.users.findByEmail(request.connection.name, request.email.trim());
      // Only database users with a password of this connection; anyone else gets nothing (and is not told).
      if (!record || record.connection !== request.connection.name) return;
      await sendTicketMail(ctx, {
        purpose: 'reset',
        user: record.user,
        connection: record.connection,
        clientId: request.clientId,
        resultUrl: request.resultUrl,
      });
    },
    (err) => log.error({ err }, 'queueing a password reset mail failed'),
  );
}

/** The verification mail for a user (sign-up, a changed email, `POST /api/v2/jobs/verification-email`). */
export async function sendVerificationMail(ctx: AccountMailContext, user: User, clientId?: string): Promise<boolean> {
  if (!user.email) return false;
  const connection = user.identities[0]?.connection ?? '';
  return sendTicketMail(ctx, { purpose: 'verify', user, connection, clientId });
}

/**
 * Auth0's welcome mail: after a sign-up that asks for no verification, or once the address is
 * verified; only when an email provider is enabled (without one, every sign-up would add a mail
 * nobody sends to the outbox), and not when the `welcome_email` template is disabled.
 */
async function queueWelcomeMail(ctx: AccountMailContext, tx: Repositories, user: User, clientId?: string): Promise<boolean> {
  if (!user.email) return false;
  return ctx.mail.queue(tx, {
    template: 'welcome_email',
    to: user.email,
    user,
    connection: user.identities[0]?.connection ?? '',
    ...(clientId ? { clientId } : {}),
  });
}

/**
 * After a sign-up on a database connection: the verification mail, unless the connection turns it
 * off (`verify_email_on_signup: false`) or, by default, no email provider is configured; the welcome
 * mail when no verification mail goes out (otherwise it follows the verification).
 */
export function verifyAfterSignup(ctx: AccountMailContext, user: User, connection: Connection, clientId: string, log: FailureLog): void {
  if (!user.email) return;
  const setting = connection.options.verify_email_on_signup;
  ctx.background.run(
    async () => {
      const verify = !user.email_verified && setting !== false && (setting === true || (await ctx.mail.providerEnabled()));
      if (verify && (await sendVerificationMail(ctx, user, clientId))) return;
      if (await ctx.mail.providerEnabled()) await queueWelcomeMail(ctx, ctx.storage, user, clientId);
    },
    (err) => log.error({ err }, 'queueing a verification or welcome mail failed'),
  );
}

/**
 * The brute-force limits' lock hook: the blocked-account mail, with a one-time unblock link, once per
 * lock. Anyone can lock an account (wrong passwords), again each time the lock ends or is lifted, so
 * the mail counts against its recipient like every other mail: past the limit the lock still holds
 * but no mail goes out, and nobody can flood a victim's inbox by locking the account over and over.
 */
export function mailOnAccountLock(ctx: AccountMailContext, log: FailureLog, clientId?: string): AccountLockedHook {
  return (user, connection) =>
    ctx.background.run(
      async () => {
        if (!user.email) return;
        try {
          await countMailRequest(ctx, { email: user.email }, ctx.now());
        } catch (err) {
          if (err instanceof DomainError && err.kind === 'limit')
            return log.warn({ user_id: user.user_id }, 'blocked-account mail not sent: too many mails');
          throw err;
        }
        await sendTicketMail(ctx, { purpose: 'unblock', user, connection: connection.name, clientId });
      },
      (err) => log.error({ err }, 'queueing a blocked-account mail failed'),
    );
}

export type ResetOutcome =
  | { done: true; record: TicketRecord; user: User }
  | { done: false; ticket: Exclude<TicketState['state'], 'valid'> }
  | { done: false; problem: string };

/**
 * Sets a new password through a reset ticket. The policy is checked before the ticket is used, so a
 * refused password leaves the link working; the ticket is then used (compare-and-set) in the same
 * transaction as the new hash is written. Afterwards every session and refresh token of the user
 * ends (whoever knew the old password may hold them), the account's brute-force lock is lifted, and
 * other reset links stop working.
 */
export async function resetPassword(
  ctx: AccountMailContext,
  ticket: string,
  record: TicketRecord,
  password: string,
): Promise<ResetOutcome> {
  const found = await ctx.storage.users.get(record.userId);
  if (!found) return { done: false, ticket: 'unknown' };
  const connection = await ctx.lookups.connection(found.connection);
  const problem = passwordProblem(password, connection?.options ?? {});
  if (problem) return { done: false, problem };
  const passwordHash = await hashPassword(password);
  const now = ctx.now();
  const iso = new Date(now).toISOString();
  const outcome = await ctx.storage.transaction(async (tx): Promise<ResetOutcome> => {
    const used = await useTicket(tx, ticket, 'reset', now);
    if (used.state !== 'valid') return { done: false, ticket: used.state };
    const current = await tx.users.get(used.record.userId);
    // A link mailed to an address the account no longer has is void, even one issued while the
    // address was being changed (an email change voids the links it can see; this catches the rest).
    if (!current || (used.record.email !== null && !sameEmail(current.user.email, used.record.email)))
      return { done: false, ticket: 'unknown' };
    const user: User = {
      ...current.user,
      updated_at: iso,
      last_password_reset: iso,
      ...(used.record.markEmailAsVerified ? { email_verified: true } : {}),
    };
    if ((await tx.users.update({ ...current, user, passwordHash })) !== true) return { done: false, ticket: 'unknown' };
    await tx.tickets.invalidate(user.user_id, ['reset'], iso);
    await tx.throttles.clear(throttleKeys(current.connection, { userId: user.user_id }, '').account);
    return { done: true, record: used.record, user };
  });
  // After the new hash is committed, so a sign-in with the old password that slipped in is ended too.
  if (outcome.done) await signOutEverywhere(ctx.storage, outcome.user.user_id, now);
  return outcome;
}

export type LinkOutcome =
  | { done: true; record: TicketRecord; user: User }
  | { done: false; ticket: Exclude<TicketState['state'], 'valid'> };

/**
 * Verifies the user's email through a verification ticket: only the address the link was sent to
 * (a changed email needs a link of its own).
 */
export async function verifyEmail(ctx: AccountMailContext, ticket: string | undefined): Promise<LinkOutcome> {
  const now = ctx.now();
  // Read before the transaction: on SQLite it holds the one connection the provider's lookup needs.
  const welcome = await ctx.mail.providerEnabled();
  return ctx.storage.transaction(async (tx) => {
    const used = await useTicket(tx, ticket, 'verify', now);
    if (used.state !== 'valid') return { done: false, ticket: used.state };
    const current = await tx.users.get(used.record.userId);
    if (!current || !sameEmail(current.user.email, used.record.email)) return { done: false, ticket: 'unknown' };
    const firstTime = !current.user.email_verified;
    const user: User = { ...current.user, email_verified: true, updated_at: new Date(now).toISOString() };
    if ((await tx.users.update({ ...current, user })) !== true) return { done: false, ticket: 'unknown' };
    if (firstTime && welcome) await queueWelcomeMail(ctx, tx, user, used.record.clientId ?? undefined);
    return { done: true, record: used.record, user };
  });
}

/** Lifts the account's brute-force lock through the blocked-account mail's link. */
export async function unblockAccount(ctx: AccountMailContext, ticket: string | undefined): Promise<LinkOutcome> {
  const now = ctx.now();
  return ctx.storage.transaction(async (tx) => {
    const used = await useTicket(tx, ticket, 'unblock', now);
    if (used.state !== 'valid') return { done: false, ticket: used.state };
    const current = await tx.users.get(used.record.userId);
    if (!current) return { done: false, ticket: 'unknown' };
    await tx.throttles.clear(throttleKeys(current.connection, { userId: current.user.user_id }, '').account);
    return { done: true, record: used.record, user: current.user };
  });
}

const sameEmail = (a: string | undefined, b: string | null) => a !== undefined && b !== null && a.toLowerCase() === b.toLowerCase();
