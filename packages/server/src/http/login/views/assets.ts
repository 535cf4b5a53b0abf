import { createHash } from 'node:crypto';

/**
 * Static assets of the hosted pages, inlined in the build (no files to copy) and served under
 * /u/assets with a content hash in the name, so they can be cached forever and the CSP can stay
 * at 'self' with no inline styles or scripts.
 */
const STYLESHEET = `
:root {
  --bg: #f4f5f7; --card: #fff; --text: #1d2330; --muted: #5d6677; --line: #d9dde5;
  --accent: #3446d4; --accent-dark: #2735a8; --danger: #b42318; --danger-bg: #fef3f2; --radius: 10px;
  --warn: #7a4b00; --warn-bg: #fffaeb; --warn-line: #fedf89;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { font-size: 16px; }
body {
  margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center; justify-content: center;
  padding: 24px 16px; background: var(--bg); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.card {
  width: 100%; max-width: 400px; background: var(--card); border-radius: 14px;
  box-shadow: 0 1px 2px rgba(16,24,40,.06), 0 12px 32px rgba(16,24,40,.08); padding: 40px 36px 32px;
}
.brand { display: flex; justify-content: center; margin-bottom: 20px; }
.logo { width: 52px; height: 52px; border-radius: 12px; object-fit: contain; }
.logo-mark {
  display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: 24px; color: #fff;
  background: linear-gradient(135deg, var(--accent), #7b5cf0);
}
h1 { font-size: 22px; line-height: 1.3; margin: 0 0 8px; text-align: center; font-weight: 650; }
.lead { margin: 0 0 24px; text-align: center; color: var(--muted); }
.lead strong { color: var(--text); font-weight: 600; }
form { margin: 0; }
.field { margin-bottom: 16px; }
label { display: block; font-size: 14px; font-weight: 550; margin-bottom: 6px; }
input[type=email], input[type=password], input[type=text] {
  width: 100%; padding: 11px 12px; font: inherit; color: var(--text); background: #fff;
  border: 1px solid var(--line); border-radius: var(--radius); transition: border-color .15s, box-shadow .15s;
}
input:focus { outline: none; border-color: var(--accent); box-shadow: 0 0 0 3px rgba(52,70,212,.18); }
input[aria-invalid=true] { border-color: var(--danger); }
.hint { font-size: 13px; color: var(--muted); margin-top: 6px; }
.hint.center { text-align: center; margin: -8px 0 0; }
.field-link { text-align: right; font-size: 14px; margin: -6px 0 0; }
button, .button {
  display: inline-flex; width: 100%; justify-content: center; align-items: center; gap: 8px; padding: 11px 16px;
  font: inherit; font-weight: 600; color: #fff; background: var(--accent); border: 1px solid var(--accent);
  border-radius: var(--radius); cursor: pointer; text-decoration: none; transition: background .15s;
}
button:hover, .button:hover { background: var(--accent-dark); }
button:focus-visible, .button:focus-visible, a:focus-visible { outline: 3px solid rgba(52,70,212,.4); outline-offset: 2px; }
button.secondary, .button.secondary { color: var(--text); background: #fff; border-color: var(--line); }
button.secondary:hover, .button.secondary:hover { background: #f7f8fa; }
.actions { display: flex; flex-direction: column; gap: 10px; margin-top: 24px; }
.actions.row { flex-direction: row-reverse; }
.alert { padding: 10px 12px; border-radius: var(--radius); margin-bottom: 16px; font-size: 14px; }
.alert.error { color: var(--danger); background: var(--danger-bg); border: 1px solid #fecdca; }
.switch { margin: 20px 0 0; text-align: center; font-size: 14px; color: var(--muted); }
a { color: var(--accent); font-weight: 550; text-decoration: none; }
a:hover { text-decoration: underline; }
.actions.upstream { margin-top: 0; }
.divider { display: flex; align-items: center; gap: 12px; margin: 20px 0; color: var(--muted); font-size: 13px; }
.divider::before, .divider::after { content: ""; flex: 1; border-top: 1px solid var(--line); }
.scopes { list-style: none; padding: 0; margin: 0 0 8px; border: 1px solid var(--line); border-radius: var(--radius); }
.scopes li { padding: 10px 14px; border-top: 1px solid var(--line); }
.scopes li:first-child { border-top: 0; }
.scopes .scope-name { font-weight: 600; display: block; }
.scopes .scope-desc { color: var(--muted); font-size: 13px; }
.client-links { text-align: center; font-size: 13px; margin: -12px 0 20px; }
.client-links a { margin: 0 6px; }
.notice {
  margin: 0 0 20px; padding: 12px 14px; font-size: 14px; color: var(--warn); background: var(--warn-bg);
  border: 1px solid var(--warn-line); border-radius: var(--radius);
}
.notice p { margin: 0; }
.notice p + p { margin-top: 6px; }
.notice .destination { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; overflow-wrap: anywhere; }
.device-code {
  font: 600 28px/1.2 ui-monospace, SFMono-Regular, Menlo, monospace; letter-spacing: .12em; text-align: center;
  margin: 4px 0 20px; padding: 12px; border: 1px dashed var(--line); border-radius: var(--radius);
}
input#user_code {
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 20px; letter-spacing: .12em;
  text-align: center; text-transform: uppercase;
}
.code {
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; color: var(--muted);
  text-align: center; margin-top: 16px;
}
.footer { margin-top: 20px; font-size: 12px; color: var(--muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
input.visually-hidden { width: 1px; padding: 0; border: 0; }
@media (max-width: 480px) {
  body { padding: 0; justify-content: flex-start; background: var(--card); }
  .card { box-shadow: none; border-radius: 0; padding: 32px 20px; max-width: none; }
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1115; --card: #171a21; --text: #e7e9ee; --muted: #9aa3b2; --line: #2c313c; --danger-bg: #2a1413;
    --warn: #fec84b; --warn-bg: #2a2110; --warn-line: #4e3a12; color-scheme: dark;
  }
  input[type=email], input[type=password], input[type=text] { background: #0f1115; }
  button.secondary, .button.secondary { background: transparent; }
  @media (max-width: 480px) { body { background: var(--card); } }
}
`;

/** Submits the response form of response_mode=form_post (OAuth 2.0 Form Post Response Mode). */
const FORM_POST_SCRIPT = `document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit(); });`;

/** response_mode=web_message: hands the response to the page that opened this window or frame. */
const WEB_MESSAGE_SCRIPT = `(function () {
  var body = document.body;
  var message = { type: 'authorization_response', response: JSON.parse(body.getAttribute('data-response')) };
  (window.opener || window.parent).postMessage(message, body.getAttribute('data-origin'));
})();`;

function asset(name: string, ext: 'css' | 'js', content: string) {
  const hash = createHash('sha256').update(content).digest('base64url').slice(0, 12);
  return {
    path: `/u/assets/${name}.${hash}.${ext}`,
    contentType: ext === 'css' ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
    content,
  };
}

export const ASSETS = {
  stylesheet: asset('latchkey', 'css', STYLESHEET),
  scripts: {
    formPost: asset('form-post', 'js', FORM_POST_SCRIPT),
    webMessage: asset('web-message', 'js', WEB_MESSAGE_SCRIPT),
  },
};
