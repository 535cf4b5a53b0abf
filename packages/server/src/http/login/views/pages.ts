import { html, type SafeHtml } from './html.js';
import { type Branding, page } from './layout.js';

export interface FormContext {
  branding: Branding;
  clientName: string;
  /** The login transaction id, posted back with every form. */
  state: string;
  csrf: string;
  error?: string;
}

const hidden = (ctx: FormContext) =>
  html`<input type="hidden" name="state" value="${ctx.state}"><input type="hidden" name="csrf" value="${ctx.csrf}">`;

const alert = (message: string | undefined) =>
  message ? html`<div class="alert error" role="alert" id="form-error">${message}</div>` : '';

/** Ties the fields to the error message for screen readers, when there is one. */
const invalidMarker = (ctx: { error?: string }) => (ctx.error ? html` aria-invalid="true" aria-describedby="form-error"` : '');

/** The labelled email field both forms start with; it takes the focus. */
const emailField = (name: string, value: string | undefined, autocomplete: string, invalid: SafeHtml | '') => html`<div class="field">
      <label for="${name}">Email</label>
      <input id="${name}" name="${name}" type="email" value="${value ?? ''}" autocomplete="${autocomplete}"
        autocapitalize="none" spellcheck="false" required autofocus${invalid}>
    </div>`;

export interface UpstreamButton {
  label: string;
  href: string;
}

export function loginPage(
  ctx: FormContext & {
    email?: string;
    signupAllowed: boolean;
    passwordForm: boolean;
    upstream: UpstreamButton[];
    /** The "Forgot password?" link, when the connection resets passwords by email. */
    forgotHref?: string;
  },
): string {
  const invalid = invalidMarker(ctx);
  const buttons = ctx.upstream.map((b) => html`<a class="button secondary" href="${b.href}">Continue with ${b.label}</a>`);
  return page({
    title: 'Log in',
    branding: ctx.branding,
    body: html`
  <h1>Welcome</h1>
  <p class="lead">Log in to <strong>${ctx.branding.tenantName}</strong> to continue to <strong>${ctx.clientName}</strong>.</p>
  ${alert(ctx.error)}
  ${
    ctx.passwordForm
      ? html`<form method="post" action="/u/login" novalidate>
    ${hidden(ctx)}
    ${emailField('username', ctx.email, 'username', invalid)}
    <div class="field">
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required${invalid}>
    </div>
    ${ctx.forgotHref ? html`<p class="field-link"><a href="${ctx.forgotHref}">Forgot password?</a></p>` : ''}
    <div class="actions"><button type="submit">Continue</button></div>
  </form>`
      : ''
  }
  ${ctx.passwordForm && buttons.length > 0 ? html`<div class="divider">or</div>` : ''}
  ${buttons.length > 0 ? html`<div class="actions upstream">${buttons}</div>` : ''}
  ${
    ctx.passwordForm && ctx.signupAllowed
      ? html`<p class="switch">Don't have an account? <a href="/u/signup?state=${encodeURIComponent(ctx.state)}">Sign up</a></p>`
      : ''
  }`,
  });
}

export function signupPage(ctx: FormContext & { email?: string; passwordHint: string; accountExists?: boolean }): string {
  const invalid = invalidMarker(ctx);
  const loginHref = `/u/login?state=${encodeURIComponent(ctx.state)}`;
  return page({
    title: 'Sign up',
    branding: ctx.branding,
    body: html`
  <h1>Create your account</h1>
  <p class="lead">Sign up to <strong>${ctx.branding.tenantName}</strong> to continue to <strong>${ctx.clientName}</strong>.</p>
  ${
    ctx.accountExists && ctx.error
      ? html`<div class="alert error" role="alert" id="form-error">${ctx.error} <a href="${loginHref}">Log in instead</a></div>`
      : alert(ctx.error)
  }
  <form method="post" action="/u/signup" novalidate>
    ${hidden(ctx)}
    ${emailField('email', ctx.email, 'email', invalid)}
    <div class="field">
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-hint">
      <div class="hint" id="password-hint">${ctx.passwordHint}</div>
    </div>
    <div class="actions"><button type="submit">Continue</button></div>
  </form>
  <p class="switch">Already have an account? <a href="${loginHref}">Log in</a></p>`,
  });
}

export interface ConsentScope {
  name: string;
  description: string;
}

export function consentPage(
  ctx: FormContext & {
    userName: string;
    scopes: ConsentScope[];
    clientLinks: Array<{ label: string; href: string }>;
    /** A third-party app: not vouched for by the tenant; where accepting sends the user. */
    unverified?: { destination: string };
  },
): string {
  return page({
    title: 'Authorize application',
    branding: ctx.branding,
    body: html`
  <h1>Authorize ${ctx.clientName}</h1>
  <p class="lead"><strong>${ctx.clientName}</strong> is requesting access to your
    <strong>${ctx.branding.tenantName}</strong> account (${ctx.userName}).</p>
  ${
    ctx.clientLinks.length > 0
      ? html`<p class="client-links">${ctx.clientLinks.map(
          (l) => html`<a href="${l.href}" rel="noopener noreferrer" target="_blank">${l.label}</a>`,
        )}</p>`
      : ''
  }
  ${
    ctx.unverified
      ? html`<div class="notice" role="note">
    <p><strong>Not verified by ${ctx.branding.tenantName}.</strong>
      This app was registered by a third party, who chose its name: it may not be the app it claims to be.</p>
    <p>If you accept, you will be sent to <strong class="destination">${ctx.unverified.destination}</strong></p>
  </div>`
      : ''
  }
  <p>It will be able to:</p>
  <ul class="scopes">
    ${ctx.scopes.map((s) => html`<li><span class="scope-name">${s.name}</span><span class="scope-desc">${s.description}</span></li>`)}
  </ul>
  <form method="post" action="/u/consent">
    ${hidden(ctx)}
    <div class="actions row">
      <button type="submit" name="action" value="accept">Accept</button>
      <button type="submit" name="action" value="deny" class="secondary">Decline</button>
    </div>
  </form>`,
  });
}

export function errorPage(branding: Branding, title: string, description: string, code?: string): string {
  return page({
    title,
    branding,
    body: html`
  <h1>${title}</h1>
  <p class="lead">${description}</p>
  ${code ? html`<p class="code">Error: ${code}</p>` : ''}`,
  });
}

export function loggedOutPage(branding: Branding): string {
  return page({
    title: 'Logged out',
    branding,
    body: html`
  <h1>You are logged out</h1>
  <p class="lead">You have been signed out of <strong>${branding.tenantName}</strong>. You may close this window.</p>`,
  });
}

export function logoutConfirmPage(branding: Branding, fields: Record<string, string>): string {
  return page({
    title: 'Log out',
    branding,
    body: html`
  <h1>Log out?</h1>
  <p class="lead">Do you want to sign out of <strong>${branding.tenantName}</strong>?</p>
  <form method="post" action="/oidc/logout">
    ${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
    <div class="actions row">
      <button type="submit" name="action" value="confirm">Log out</button>
    </div>
  </form>`,
  });
}

/** response_mode=form_post: a form the script submits at once (and a button without scripts). */
export function formPostPage(branding: Branding, action: string, params: Record<string, string>): string {
  return page({
    title: 'Continue',
    branding,
    script: 'formPost',
    body: html`
  <h1>Continue to the application</h1>
  <form method="post" action="${action}">
    ${Object.entries(params).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
    <div class="actions"><button type="submit">Continue</button></div>
  </form>`,
  });
}

export function webMessagePage(branding: Branding, origin: string, response: Record<string, string>): string {
  return page({
    title: 'Signing in',
    branding,
    script: 'webMessage',
    bodyData: { origin, response: JSON.stringify(response) },
    body: html`<p class="lead">Signing in…</p>`,
  });
}

export interface DevicePageContext {
  branding: Branding;
  csrf: string;
  error?: string;
}

/** RFC 8628 §3.3: where the user types the code the device shows. */
export function activatePage(ctx: DevicePageContext & { userCode?: string }): string {
  const invalid = invalidMarker(ctx);
  return page({
    title: 'Activate a device',
    branding: ctx.branding,
    body: html`
  <h1>Activate a device</h1>
  <p class="lead">Enter the code shown on your device to connect it to <strong>${ctx.branding.tenantName}</strong>.</p>
  ${alert(ctx.error)}
  <form method="post" action="/activate" novalidate>
    <input type="hidden" name="csrf" value="${ctx.csrf}">
    <div class="field">
      <label for="user_code">Code</label>
      <input id="user_code" name="user_code" type="text" value="${ctx.userCode ?? ''}" autocomplete="one-time-code"
        autocapitalize="characters" spellcheck="false" placeholder="XXXX-XXXX" required autofocus${invalid}>
    </div>
    <div class="actions"><button type="submit">Continue</button></div>
  </form>`,
  });
}

/** RFC 8628 §5.4: the user confirms the code matches the device before anything is granted. */
export function deviceConfirmPage(
  ctx: DevicePageContext & { clientName: string; userCode: string; userName: string; scopes: ConsentScope[] },
): string {
  return page({
    title: 'Confirm device',
    branding: ctx.branding,
    body: html`
  <h1>Connect ${ctx.clientName}?</h1>
  <p class="lead">Signed in as <strong>${ctx.userName}</strong>. Check that your device shows this code:</p>
  <p class="device-code">${ctx.userCode}</p>
  ${
    ctx.scopes.length > 0
      ? html`<p>It will be able to:</p>
  <ul class="scopes">
    ${ctx.scopes.map((s) => html`<li><span class="scope-name">${s.name}</span><span class="scope-desc">${s.description}</span></li>`)}
  </ul>`
      : ''
  }
  <form method="post" action="/activate/confirm">
    <input type="hidden" name="csrf" value="${ctx.csrf}">
    <input type="hidden" name="user_code" value="${ctx.userCode}">
    <div class="actions row">
      <button type="submit" name="action" value="confirm">Confirm</button>
      <button type="submit" name="action" value="cancel" class="secondary">Cancel</button>
    </div>
  </form>`,
  });
}

export function deviceDonePage(branding: Branding, approved: boolean): string {
  return page({
    title: approved ? 'Device connected' : 'Device not connected',
    branding,
    body: approved
      ? html`
  <h1>Device connected</h1>
  <p class="lead">You can return to your device now; it will finish signing in by itself.</p>`
      : html`
  <h1>Request cancelled</h1>
  <p class="lead">The device was not connected. You can close this window.</p>`,
  });
}

/** What a person who opens the server's address in a browser sees: what this is and where to go next. */
export function homePage(branding: Branding, links: { discovery: string; jwks: string; docs: string }): string {
  return page({
    title: 'latchkey',
    branding,
    body: html`
  <h1>latchkey identity server</h1>
  <p class="lead">This server signs users in for <strong>${branding.tenantName}</strong>.
  Apps send people here; there is nothing to do on this page.</p>
  <ul>
    <li><a href="${links.discovery}">OpenID Connect discovery</a></li>
    <li><a href="${links.jwks}">Signing keys (JWKS)</a></li>
    <li><a href="${links.docs}">Documentation</a></li>
  </ul>`,
  });
}
