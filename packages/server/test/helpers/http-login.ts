import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

/**
 * A minimal cookie-keeping user agent for protocol tests that need no rendering: follows nothing by
 * itself, so each redirect can be inspected. Browser behaviour proper is tested in Chromium.
 */
export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(new URL(url, this.base), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
      const expired = attributes.some((a) => /max-age=0/i.test(a.trim()) || /expires=thu, 01 jan 1970/i.test(a.trim()));
      if (expired || value === '') this.cookies.delete(name.trim());
      else this.cookies.set(name.trim(), value);
    }
    return response;
  }

  get(url: string | URL): Promise<Response> {
    return this.request(url);
  }

  postForm(url: string | URL, fields: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(issuer: string, params: Record<string, string>): URL {
  const url = new URL(`${issuer}authorize`);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url;
}

/** The hidden fields of the first form on a hosted page. */
export function formFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[match[1]!] = match[2]!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  }
  return fields;
}

/**
 * /authorize → login page → form post; returns the response of the form post (normally the 302
 * back to the client). Asserts the steps in between went as a browser would see them.
 */
export async function signInWithPassword(browser: Browser, authorize: URL, email: string, password: string): Promise<Response> {
  const start = await browser.get(authorize);
  assert.equal(start.status, 302, `authorize answered ${start.status}: ${await start.text()}`);
  const location = start.headers.get('location')!;
  if (!location.startsWith('/u/')) return start; // answered at once (SSO session, or an error for the client)
  const page = await browser.get(location);
  assert.equal(page.status, 200);
  const fields = formFields(await page.text());
  return browser.postForm('/u/login', { ...fields, username: email, password });
}

/** The parameters of a redirect back to the client, from the query or the fragment. */
export function callbackParams(response: Response): URLSearchParams {
  assert.equal(response.status, 302, `expected a redirect, got ${response.status}`);
  const url = new URL(response.headers.get('location')!);
  return new URLSearchParams(url.hash ? url.hash.slice(1) : url.search);
}
