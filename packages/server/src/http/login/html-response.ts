import type { FastifyReply } from 'fastify';
import type { Lookups } from '../../storage/cache.js';
import type { Branding } from './views/layout.js';

export interface PageSecurity {
  /** Where forms on the page may post, and so where their responses may redirect (CSP form-action). */
  formTargets?: string[];
  /** The one origin allowed to frame the page (response_mode=web_message); none otherwise. */
  frameAncestor?: string;
}

/**
 * CSP source for a redirect target: its origin for http(s), its scheme for a native app's custom
 * scheme (`com.example.app:`). Chromium applies form-action to the redirect after a form post, so
 * the login form must name where the login finally redirects.
 */
export function cspSource(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    // CSP host sources have no syntax for IPv6 literals: an [::1] loopback target needs `http:`.
    if (url.protocol === 'http:' && url.hostname === '[::1]') return 'http:';
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
    return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : undefined;
  } catch {
    return undefined;
  }
}

export function contentSecurityPolicy(security: PageSecurity = {}): string {
  const formAction = ["'self'", ...(security.formTargets ?? []).map(cspSource).filter(Boolean)].join(' ');
  const frameAncestors = security.frameAncestor ? (cspSource(security.frameAncestor) ?? "'none'") : "'none'";
  return [
    "default-src 'none'",
    "style-src 'self'",
    "script-src 'self'",
    "img-src 'self' https: data:",
    `form-action ${formAction}`,
    `frame-ancestors ${frameAncestors}`,
    "base-uri 'none'",
  ].join('; ');
}

/** Every hosted page goes out through here: strict CSP, no caching, no framing, no referrer. */
export function sendPage(reply: FastifyReply, body: string, status = 200, security: PageSecurity = {}): FastifyReply {
  return reply
    .status(status)
    .headers({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': contentSecurityPolicy(security),
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      ...(security.frameAncestor ? {} : { 'x-frame-options': 'DENY' }),
    })
    .send(body);
}

export async function tenantBranding(lookups: Lookups): Promise<Branding> {
  const settings = await lookups.tenantSettings();
  return { tenantName: settings.friendly_name, ...(settings.picture_url ? { logoUrl: settings.picture_url } : {}) };
}
