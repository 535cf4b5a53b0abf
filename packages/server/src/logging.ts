import type { FastifyRequest } from 'fastify';
import { stdSerializers } from 'pino';

/**
 * Query parameters whose values are credentials or correlate a sign-in in progress: an upstream
 * `code` or an `id_token_hint` in a debug log could be replayed by whoever reads the logs, and the
 * `state` of a hosted page is the login transaction id. Logged as `[redacted]`.
 */
const SENSITIVE_QUERY_PARAMETERS = new Set([
  'code',
  'state',
  'id_token_hint',
  'id_token',
  'access_token',
  'refresh_token',
  'token',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'user_code',
  'device_code',
  'ticket',
  'password',
  'session_state',
  'login_hint',
  // An export file's download link (/jobs/files/...): whoever has it reads every exported user until it expires.
  'signature',
]);

export const REDACTED = '[redacted]';

/**
 * pino redaction: headers that carry credentials (if a log call ever passes raw headers) and secret-named
 * fields at the top level or one level down (a body or params object logged whole).
 */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
  ...['client_secret', 'password', 'access_token', 'refresh_token', 'id_token', 'ticket', 'client_assertion'].flatMap((name) => [
    name,
    `*.${name}`,
  ]),
];

/** A request URL (`/path?query`) with the values of sensitive query parameters replaced. */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const query = url
    .slice(queryStart + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      return SENSITIVE_QUERY_PARAMETERS.has(decodedName(name)) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, queryStart)}?${query.join('&')}`;
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}

/**
 * Token-shaped text: a JWT (base64url parts, the first a JSON header) or any run of 32 or more
 * base64url/hex characters, which is how access tokens, refresh tokens, codes and secrets look.
 * Ordinary words and ids are shorter; `/` is left out so that URL paths survive.
 */
const TOKEN_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*|[A-Za-z0-9_-]{32,}={0,2}/g;

/** Text from an untrusted source (a profile script's console) made fit for a log line. */
export function redactTokenLike(text: string, options: { known?: string[]; maxLength?: number } = {}): string {
  let redacted = text;
  // Known secrets first, whatever their shape (a short opaque access token is still one).
  for (const secret of options.known ?? []) if (secret.length >= 8) redacted = redacted.split(secret).join(REDACTED);
  redacted = redacted.replace(TOKEN_LIKE, REDACTED);
  const max = options.maxLength ?? 500;
  return redacted.length > max ? `${redacted.slice(0, max)}… (${redacted.length - max} more characters)` : redacted;
}

const SENSITIVE_IN_TEXT = new RegExp(`([?&](?:${[...SENSITIVE_QUERY_PARAMETERS].join('|')})=)[^&#\\s"'<>]*`, 'gi');

/** Free text (an error message, a stack) with any URL's sensitive query values replaced. */
export function redactQueryInText(text: string): string {
  return text.replace(SENSITIVE_IN_TEXT, `$1${REDACTED}`);
}

/** pino's `err` serializer, with URLs in the message and stack redacted (fetch errors quote them). */
export function errorForLog(err: Error) {
  const serialized = stdSerializers.err(err);
  if (typeof serialized.message === 'string') serialized.message = redactQueryInText(serialized.message);
  if (typeof serialized.stack === 'string') serialized.stack = redactQueryInText(serialized.stack);
  return serialized;
}

/**
 * pino's `req` serializer (Fastify's default shape), with the URL redacted. No headers: the
 * Authorization header and cookies never reach the log at all.
 */
export function requestForLog(request: FastifyRequest) {
  return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
}
