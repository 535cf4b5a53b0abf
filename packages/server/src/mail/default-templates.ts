import type { EmailTemplateName } from './types.js';

/**
 * latchkey's own templates, sent for every template the tenant has not stored (Auth0 likewise sends
 * its defaults). They are Liquid over the same variables as a stored template, and look like the
 * hosted pages (http/login/views/assets.ts): one white card on a grey page, the tenant's logo or
 * initial, one accent button. Built for mail clients: tables for layout, styles inline, a
 * "bulletproof" button (a link inside a coloured cell), no web fonts, images or scripts of our own.
 */

export interface DefaultTemplate {
  subject: string;
  /** HTML, Liquid. */
  body: string;
  /** Plain text, Liquid: the text/plain part. */
  text: string;
  /** Auth0's default link lifetime for the template. */
  urlLifetimeInSeconds: number;
}

const FONT = `font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif`;
const TEXT = '#1d2330';
const MUTED = '#5d6677';
const ACCENT = '#3446d4';
const PAGE = '#f4f5f7';
const LINE = '#e4e7ec';

interface Content {
  /** The line mail clients show after the subject. */
  preheader: string;
  heading: string;
  /** HTML paragraphs (Liquid). */
  paragraphs: string[];
  /** Label of the button that opens `url`; no button when absent. */
  button?: string;
  /** Small print under the button. */
  note: string;
}

const paragraph = (html: string) => `<p style="margin:0 0 16px;${FONT};font-size:15px;line-height:24px;color:${TEXT};">${html}</p>`;

function html(content: Content): string {
  // Only with a link to open: a template sent without `url` (a welcome mail) keeps just its text.
  const button = content.button
    ? `{% if url %}
          <tr>
            <td class="pad" align="center" style="padding:8px 40px 24px;">
              <table role="presentation" cellpadding="0" cellspacing="0" border="0">
                <tr>
                  <td align="center" bgcolor="${ACCENT}" style="border-radius:10px;background:${ACCENT};">
                    <a href="{{ url }}" target="_blank"
                      style="display:inline-block;padding:13px 32px;${FONT};font-size:15px;font-weight:600;line-height:20px;
                        color:#ffffff;text-decoration:none;border-radius:10px;">${content.button}</a>
                  </td>
                </tr>
              </table>
            </td>
          </tr>{% endif %}`
    : '';
  const fallback = content.button
    ? `{% if url %}<p style="margin:16px 0 0;${FONT};font-size:13px;line-height:20px;color:${MUTED};">Button not working? Paste
      this link into your browser:</p>
              <p style="margin:4px 0 0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
                line-height:18px;word-break:break-all;"><a href="{{ url }}" target="_blank"
                style="color:${ACCENT};text-decoration:none;">{{ url }}</a></p>{% endif %}`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="supported-color-schemes" content="light">
<title>${content.heading}</title>
<style>
  /* Clients that keep a style element (Apple Mail, Gmail apps, Outlook.com) narrow the margins on phones. */
  @media (max-width: 480px) { .pad { padding-left: 24px !important; padding-right: 24px !important; } }
</style>
</head>
<body style="margin:0;padding:0;background:${PAGE};">
  <div style="display:none;max-height:0;overflow:hidden;opacity:0;color:${PAGE};">${content.preheader}</div>
  <table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="${PAGE}" style="background:${PAGE};">
    <tr>
      <td align="center" style="padding:40px 16px;">
        <table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff"
          style="max-width:480px;background:#ffffff;border:1px solid ${LINE};border-radius:14px;">
          <tr>
            <td class="pad" align="center" style="padding:40px 40px 20px;">
              {% if picture_url %}<img src="{{ picture_url }}" width="52" height="52" alt="{{ friendly_name }}"
                style="display:block;width:52px;height:52px;border:0;border-radius:12px;">{% else %}<table role="presentation"
                cellpadding="0" cellspacing="0" border="0"><tr><td align="center" valign="middle" width="52" height="52"
                bgcolor="${ACCENT}"
                style="width:52px;height:52px;border-radius:12px;background:${ACCENT};${FONT};font-size:24px;font-weight:700;
                  line-height:52px;color:#ffffff;">{{ friendly_name | slice: 0 | upcase }}</td></tr></table>{% endif %}
            </td>
          </tr>
          <tr>
            <td class="pad" style="padding:0 40px;">
              <h1 style="margin:0 0 20px;${FONT};font-size:22px;line-height:30px;font-weight:650;color:${TEXT};text-align:center;
                ">${content.heading}</h1>
              ${content.paragraphs.map(paragraph).join('\n              ')}
            </td>
          </tr>${button}
          <tr>
            <td class="pad" style="padding:0 40px 36px;">
              <p style="margin:0;padding-top:20px;border-top:1px solid ${LINE};${FONT};font-size:13px;line-height:20px;
                color:${MUTED};">${content.note}</p>
              ${fallback}
            </td>
          </tr>
        </table>
        <table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:480px;">
          <tr>
            <td align="center" style="padding:20px 16px 0;${FONT};font-size:12px;line-height:18px;color:${MUTED};">
              Sent by {{ friendly_name }}{% if support_email %} · Questions? <a href="mailto:{{ support_email }}"
                style="color:${MUTED};text-decoration:underline;">{{ support_email }}</a>{% elsif support_url %} · <a
                href="{{ support_url }}" style="color:${MUTED};text-decoration:underline;">Get help</a>{% endif %}
            </td>
          </tr>
        </table>
      </td>
    </tr>
  </table>
</body>
</html>
`;
}

const stripTags = (value: string) => value.replace(/<[^>]+>/g, '');

function text(content: Content): string {
  const lines = [content.heading, ''];
  // A text part has no button: the link comes on its own line.
  for (const p of content.paragraphs) lines.push(stripTags(p).replace('the button below', 'the link below'), '');
  if (content.button) lines.push(`{% if url %}${content.button}: {{ url }}{% endif %}`, '');
  lines.push(stripTags(content.note), '', '-- ', '{{ friendly_name }}{% if support_email %} · {{ support_email }}{% endif %}', '');
  return lines.join('\n');
}

/** "Hi Ada," from the most personal name the user has; "Hi," when there is none (no capture: it would escape twice). */
const HELLO =
  'Hi{% if user.given_name %} {{ user.given_name }}{% elsif user.name and user.name != user.email %} {{ user.name }}' +
  '{% elsif user.nickname %} {{ user.nickname }}{% endif %},';

function template(subject: string, urlLifetimeInSeconds: number, content: Content): DefaultTemplate {
  const paragraphs = [HELLO, ...content.paragraphs];
  return {
    subject,
    body: html({ ...content, paragraphs }),
    text: text({ ...content, paragraphs }),
    urlLifetimeInSeconds,
  };
}

const FIVE_DAYS = 5 * 24 * 3600;
const EMAIL = '<strong>{{ user.email }}</strong>';

export const DEFAULT_TEMPLATES: Record<EmailTemplateName, DefaultTemplate> = {
  verify_email: template('Verify your email for {{ friendly_name }}', FIVE_DAYS, {
    preheader: 'Confirm your address to finish setting up your account.',
    heading: 'Verify your email',
    paragraphs: [
      `Thanks for signing up with {{ friendly_name }}. Confirm that ${EMAIL} is your address to finish setting up your account.`,
    ],
    button: 'Verify email',
    note: "If you didn't create an account with {{ friendly_name }}, you can ignore this email.",
  }),
  reset_email: template('Reset your {{ friendly_name }} password', FIVE_DAYS, {
    preheader: 'Choose a new password for your account.',
    heading: 'Reset your password',
    paragraphs: [`We received a request to reset the password of ${EMAIL}. Choose a new one with the button below.`],
    button: 'Reset password',
    note: "If you didn't ask to reset your password, ignore this email: your password stays as it is. The link works once.",
  }),
  change_password: template('Change your {{ friendly_name }} password', FIVE_DAYS, {
    preheader: 'Choose a new password for your account.',
    heading: 'Change your password',
    paragraphs: [`Someone asked to change the password of ${EMAIL}. Choose a new one with the button below.`],
    button: 'Change password',
    note: "If you didn't ask for this, ignore this email: your password stays as it is. The link works once.",
  }),
  welcome_email: template('Welcome to {{ friendly_name }}', 0, {
    preheader: 'Your account is ready.',
    heading: 'Welcome to {{ friendly_name }}',
    paragraphs: [`Your account ${EMAIL} is ready. We're glad to have you with us.`],
    button: 'Get started',
    note: 'You received this email because an account was created with this address.',
  }),
  blocked_account: template('Your {{ friendly_name }} account was locked', FIVE_DAYS, {
    preheader: 'Sign-in was blocked after several failed attempts.',
    heading: 'Your account was locked',
    paragraphs: [
      `We blocked sign-in to ${EMAIL} after several attempts with a wrong password.`,
      'If that was you, unblock your account with the button below. If it was not, someone may be guessing your password: ' +
        'unblock it, then consider changing your password.',
    ],
    button: 'Unblock my account',
    note: 'The account unblocks by itself after a while if you do nothing. The link works once.',
  }),
};
