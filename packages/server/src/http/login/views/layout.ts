import { ASSETS } from './assets.js';
import { html, type SafeHtml } from './html.js';

export interface Branding {
  tenantName: string;
  logoUrl?: string;
}

/** The frame every hosted page shares: tenant branding, one centred card, no scripts unless asked. */
export function page(options: {
  title: string;
  branding: Branding;
  body: SafeHtml;
  script?: keyof typeof ASSETS.scripts;
  bodyData?: Record<string, string>;
}): string {
  const { title, branding, body } = options;
  const data = Object.entries(options.bodyData ?? {}).map(([k, v]) => html` data-${k}="${v}"`);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · ${branding.tenantName}</title>
<link rel="stylesheet" href="${ASSETS.stylesheet.path}">
${options.script ? html`<script src="${ASSETS.scripts[options.script].path}" defer></script>` : ''}
</head>
<body${data}>
<main class="card">
  <header class="brand">
    ${
      branding.logoUrl
        ? html`<img class="logo" src="${branding.logoUrl}" alt="${branding.tenantName}" width="52" height="52">`
        : html`<div class="logo logo-mark" aria-hidden="true">${branding.tenantName.slice(0, 1).toUpperCase()}</div>`
    }
  </header>
  ${body}
</main>
<footer class="footer">Secured by latchkey</footer>
</body>
</html>`.value;
}
