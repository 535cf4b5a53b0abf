import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { authorizeUrl, type Browser, callbackParams, pkcePair, signInWithPassword } from './http-login.js';
import type { TestServer } from './server.js';

/** A clock the tests move by hand; the server reads it through the `now` option. */
export class TestClock {
  value = Date.now();
  readonly now = () => this.value;
  advance(ms: number): void {
    this.value += ms;
  }
}

/** POST /oauth/token as a form, the way most SDKs send it; answers the status and parsed JSON. */
export async function tokenRequest(
  server: TestServer,
  params: Record<string, string>,
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

export function assertOAuthError(result: { status: number; body: any }, status: number, error: string): void {
  assert.equal(result.status, status, JSON.stringify(result.body));
  assert.equal(result.body.error, error, JSON.stringify(result.body));
  assert.equal(typeof result.body.error_description, 'string');
}

export const claimsOf = (jwt: string) => decodeJwt(jwt) as Record<string, any>;

/**
 * Signs in (or rides the SSO session of `browser`) and answers the code and the PKCE verifier
 * that goes with it.
 */
export async function authorizationCode(
  server: TestServer,
  browser: Browser,
  params: Record<string, string>,
  credentials: { email: string; password: string },
): Promise<{ code: string; verifier: string; params: URLSearchParams }> {
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(server.issuer, {
    response_type: 'code',
    scope: 'openid profile email',
    state: `st-${Math.random().toString(36).slice(2)}`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  });
  const response = await signInWithPassword(browser, url, credentials.email, credentials.password);
  const result = callbackParams(response);
  const code = result.get('code');
  assert.ok(code, `no code in ${response.headers.get('location')}`);
  return { code, verifier, params: result };
}

/**
 * What every hosted HTML page must carry: a CSP without inline script or style, that frames
 * nowhere (web_message: only the given origin), X-Frame-Options unless framing is intended, and
 * markup with no inline script, event handler or style attribute the CSP would have to allow.
 */
export function assertStrictPage(response: Response, body: string, options: { frameAncestor?: string } = {}): string {
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  const csp = response.headers.get('content-security-policy');
  assert.ok(csp, 'a hosted page without Content-Security-Policy');
  const directives = new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...values]) => [name!, values] as const),
  );
  assert.deepEqual(directives.get('default-src'), ["'none'"], csp);
  assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|\*/, csp);
  for (const directive of ['script-src', 'style-src']) {
    for (const source of directives.get(directive) ?? []) assert.equal(source, "'self'", `${directive} in ${csp}`);
  }
  if (options.frameAncestor) {
    assert.deepEqual(directives.get('frame-ancestors'), [options.frameAncestor], csp);
    assert.equal(response.headers.get('x-frame-options'), null);
  } else {
    assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], csp);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  }
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  for (const script of body.matchAll(/<script\b[^>]*>/gi)) assert.match(script[0], /\ssrc="\/u\/assets\//, `inline script: ${script[0]}`);
  assert.doesNotMatch(body, /<[^>]+\son[a-z]+\s*=/i, 'inline event handler');
  assert.doesNotMatch(body, /<[^>]+\sstyle\s*=/i, 'inline style attribute');
  assert.doesNotMatch(body, /<style\b/i, 'inline stylesheet');
  assert.doesNotMatch(body, /javascript:/i);
  return csp;
}

/** A CSP directive's sources. */
export function cspDirective(csp: string, name: string): string[] {
  for (const part of csp.split(';')) {
    const [directive, ...values] = part.trim().split(/\s+/);
    if (directive === name) return values;
  }
  return [];
}

export function decodeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#96;/g, '`')
    .replace(/&amp;/g, '&');
}
