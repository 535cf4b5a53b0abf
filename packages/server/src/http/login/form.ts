import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { ServerContext } from '../../context.js';
import { repeated } from '../params.js';

/**
 * A form or query field as one string; missing or too long reads as absent. A repeated field is
 * refused (http/params.ts, RFC 6749 §3.1) rather than read as absent: latchkey's own forms never
 * repeat one, so the request is forged or broken, and the hosted error page says which field.
 */
export function field(body: unknown, name: string, maxLength = 1024): string | undefined {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  if (Array.isArray(value)) throw repeated(name);
  return typeof value === 'string' && value.length <= maxLength ? value : undefined;
}

/** Constant-time comparison of a presented secret (cookie, form field) with the expected one. */
export function sameSecret(presented: string | undefined, expected: string | undefined): boolean {
  if (presented === undefined || expected === undefined) return false;
  // Bytes, not characters: timingSafeEqual throws on buffers of different lengths (é is two bytes).
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A double-submit CSRF token for a page's form outside a login transaction: the cookie (scoped to
 * the path the form posts to) binds it to this browser, the hidden field to this page.
 */
export function issueCsrfCookie(reply: FastifyReply, ctx: ServerContext, name: string, path: string, maxAgeSeconds: number): string {
  const csrf = randomBytes(24).toString('base64url');
  reply.setCookie(name, csrf, { ...cookieOptions(ctx, maxAgeSeconds, path), sameSite: 'lax' });
  return csrf;
}

/** Cookies are Secure (and SameSite=None, for silent sign-in in a frame) whenever the issuer is https. */
export function cookieOptions(ctx: ServerContext, maxAgeSeconds: number, path = '/') {
  const secure = ctx.issuer.startsWith('https:');
  return { path, httpOnly: true, secure, sameSite: secure ? ('none' as const) : ('lax' as const), maxAge: maxAgeSeconds };
}
