import { html } from './html.js';
import { type Branding, page } from './layout.js';
import type { FormContext } from './pages.js';

const alert = (message: string | undefined) =>
  message ? html`<div class="alert error" role="alert" id="form-error">${message}</div>` : '';

/** "Forgot password?": the address to send a reset link to. */
export function forgotPasswordPage(ctx: FormContext & { email?: string; action: string; loginHref: string }): string {
  const invalid = ctx.error ? html` aria-invalid="true" aria-describedby="form-error"` : '';
  return page({
    title: 'Reset your password',
    branding: ctx.branding,
    body: html`
  <h1>Forgot your password?</h1>
  <p class="lead">Enter the email address of your <strong>${ctx.branding.tenantName}</strong> account and we will send you a link to
    reset your password.</p>
  ${alert(ctx.error)}
  <form method="post" action="${ctx.action}" novalidate>
    <input type="hidden" name="state" value="${ctx.state}"><input type="hidden" name="csrf" value="${ctx.csrf}">
    <div class="field">
      <label for="email">Email</label>
      <input id="email" name="email" type="email" value="${ctx.email ?? ''}" autocomplete="username"
        autocapitalize="none" spellcheck="false" required autofocus${invalid}>
    </div>
    <div class="actions"><button type="submit">Send reset link</button></div>
  </form>
  <p class="switch"><a href="${ctx.loginHref}">Back to log in</a></p>`,
  });
}

/** The same answer whether or not the address belongs to an account. */
export function resetLinkSentPage(branding: Branding, email: string, loginHref?: string): string {
  return page({
    title: 'Check your email',
    branding,
    body: html`
  <h1>Check your email</h1>
  <p class="lead">If <strong>${email}</strong> belongs to a <strong>${branding.tenantName}</strong> account, we have sent it a link
    to reset the password. The link works once.</p>
  <p class="hint center">Nothing arrived? Check your spam folder, or try again in a few minutes.</p>
  ${loginHref ? html`<p class="switch"><a href="${loginHref}">Back to log in</a></p>` : ''}`,
  });
}

export interface ResetFormContext {
  branding: Branding;
  ticket: string;
  csrf: string;
  /** Whose password this is (the account the link was sent for). */
  email: string;
  passwordHint: string;
  error?: string;
}

/** The page a reset link opens: the new password, twice, under the connection's policy. */
export function resetPasswordPage(ctx: ResetFormContext): string {
  const invalid = ctx.error ? html` aria-invalid="true"` : '';
  return page({
    title: 'Change your password',
    branding: ctx.branding,
    body: html`
  <h1>Change your password</h1>
  <p class="lead">Choose a new password for <strong>${ctx.email}</strong>.</p>
  ${alert(ctx.error)}
  <form method="post" action="/lo/reset" novalidate>
    <input type="hidden" name="ticket" value="${ctx.ticket}"><input type="hidden" name="csrf" value="${ctx.csrf}">
    <input class="visually-hidden" type="text" name="username" value="${ctx.email}" autocomplete="username"
      tabindex="-1" aria-hidden="true" readonly>
    <div class="field">
      <label for="password">New password</label>
      <input id="password" name="password" type="password" autocomplete="new-password" required autofocus
        aria-describedby="password-hint${ctx.error ? ' form-error' : ''}"${invalid}>
      <div class="hint" id="password-hint">${ctx.passwordHint}</div>
    </div>
    <div class="field">
      <label for="password_confirmation">Confirm new password</label>
      <input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required${invalid}>
    </div>
    <div class="actions"><button type="submit">Reset password</button></div>
  </form>`,
  });
}

export function resetDonePage(branding: Branding, continueHref?: string): string {
  return page({
    title: 'Password changed',
    branding,
    body: html`
  <h1>Password changed</h1>
  <p class="lead">Your password has been changed. You have been signed out everywhere: log in again with your new password.</p>
  ${continueHref ? html`<div class="actions"><a class="button" href="${continueHref}">Continue</a></div>` : ''}`,
  });
}

export type LinkProblem = 'used' | 'expired' | 'unknown';

const PROBLEMS: Record<LinkProblem, { title: string; text: string }> = {
  used: { title: 'Link already used', text: 'This link has already been used, or a newer change made it void. Each link works once.' },
  expired: { title: 'Link expired', text: 'This link has expired.' },
  unknown: { title: 'Invalid link', text: 'This link is not valid. Check that you opened the whole link from the email.' },
};

const NEXT_STEP = {
  reset: 'To reset your password, ask for a new link from the login page ("Forgot password?").',
  verify: 'Ask the application for a new verification email.',
  unblock: 'Your account unlocks by itself after a while; a new failed login attempt may send another link.',
} as const;

/** A used, expired or unknown ticket: what happened, and what to do now. */
export function linkProblemPage(branding: Branding, problem: LinkProblem, purpose: keyof typeof NEXT_STEP): string {
  const { title, text } = PROBLEMS[problem];
  return page({
    title,
    branding,
    body: html`
  <h1>${title}</h1>
  <p class="lead">${text}</p>
  <p class="hint center">${NEXT_STEP[purpose]}</p>
  <p class="code">Error: ${problem === 'unknown' ? 'invalid_ticket' : `ticket_${problem}`}</p>`,
  });
}

export function emailVerifiedPage(branding: Branding, email: string, continueHref?: string): string {
  return page({
    title: 'Email verified',
    branding,
    body: html`
  <h1>Email verified</h1>
  <p class="lead"><strong>${email}</strong> is verified. You can continue using the application.</p>
  ${continueHref ? html`<div class="actions"><a class="button" href="${continueHref}">Continue</a></div>` : ''}`,
  });
}

export function accountUnblockedPage(branding: Branding): string {
  return page({
    title: 'Account unblocked',
    branding,
    body: html`
  <h1>Account unblocked</h1>
  <p class="lead">Your <strong>${branding.tenantName}</strong> account is unblocked: you can log in again. If the failed attempts
    were not yours, consider changing your password.</p>`,
  });
}
