/**
 * The server side of the sandbox's `request` global: turns what the script asked for (options in
 * the `request` npm library's shape) into one `fetch`, with a timeout, a response size limit and
 * http(s) only, and answers with plain data the VM turns into `(err, response, body)`.
 */
import type { RequestResult, RequestSpec } from './protocol.js';

export interface HostRequestLimits {
  timeoutMs: number;
  maxResponseBytes: number;
}

class RequestFailure extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Never throws: every failure becomes the `err` the script's callback receives. */
export async function performHostRequest(
  spec: RequestSpec,
  limits: HostRequestLimits,
  fetchImpl: typeof fetch,
  runSignal: AbortSignal,
): Promise<RequestResult> {
  let prepared: { url: URL; init: RequestInit; redirect: RequestRedirect };
  try {
    prepared = prepare(spec);
  } catch (error) {
    return failure(error);
  }
  const { url, init } = prepared;
  const requested = Number(spec.timeout);
  const timeoutMs = requested > 0 ? Math.min(requested, limits.timeoutMs) : limits.timeoutMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onRunEnd = () => controller.abort();
  runSignal.addEventListener('abort', onRunEnd, { once: true });
  if (runSignal.aborted) controller.abort();
  try {
    const response = await fetchImpl(url, { ...init, redirect: prepared.redirect, signal: controller.signal });
    const body = await readLimited(response, limits.maxResponseBytes, controller);
    return {
      response: { statusCode: response.status, statusMessage: response.statusText, headers: headersOf(response.headers), body },
    };
  } catch (error) {
    if (timedOut) {
      return { error: { message: `ETIMEDOUT: ${describeUrl(url)} did not answer within ${timeoutMs} ms`, code: 'ETIMEDOUT' } };
    }
    return failure(error);
  } finally {
    clearTimeout(timer);
    runSignal.removeEventListener('abort', onRunEnd);
  }
}

function prepare(spec: RequestSpec): { url: URL; init: RequestInit; redirect: RequestRedirect } {
  const method = typeof spec.method === 'string' ? spec.method.toUpperCase() : 'GET';
  if (!METHODS.has(method)) throw new RequestFailure(`Unsupported method ${JSON.stringify(spec.method)}`);
  if (typeof spec.uri !== 'string' || spec.uri === '') throw new RequestFailure('options.uri is a required argument');
  let url: URL;
  try {
    url = typeof spec.baseUrl === 'string' ? new URL(spec.uri, spec.baseUrl) : new URL(spec.uri);
  } catch {
    throw new RequestFailure(`Invalid URI "${spec.uri.slice(0, 200)}"`);
  }
  // The script reaches the network and nothing else: no file:, data:, blob: or other schemes.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RequestFailure(`Invalid protocol: ${url.protocol}`);
  if (isRecord(spec.qs)) appendParams(url.searchParams, spec.qs);

  const headers = new Headers();
  if (isRecord(spec.headers)) {
    for (const [name, value] of Object.entries(spec.headers)) {
      if (value === undefined || value === null) continue;
      headers.set(name, Array.isArray(value) ? value.map(String).join(', ') : String(value));
    }
  }
  if (isRecord(spec.auth) && !headers.has('authorization')) {
    const { bearer, user, username, pass, password } = spec.auth;
    if (typeof bearer === 'string') headers.set('authorization', `Bearer ${bearer}`);
    else if (typeof (user ?? username) === 'string') {
      const credentials = `${String(user ?? username)}:${String(pass ?? password ?? '')}`;
      headers.set('authorization', `Basic ${Buffer.from(credentials).toString('base64')}`);
    }
  }

  let body: string | undefined;
  const json = spec.json !== undefined && spec.json !== false && spec.json !== null;
  if (spec.form !== undefined) {
    body = typeof spec.form === 'string' ? spec.form : isRecord(spec.form) ? formEncode(spec.form) : undefined;
    if (body === undefined) throw new RequestFailure('options.form must be an object or a string');
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
  } else if (json && spec.json !== true) {
    body = JSON.stringify(spec.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (spec.body !== undefined) {
    if (typeof spec.body === 'string') body = spec.body;
    else if (json) {
      body = JSON.stringify(spec.body);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    } else throw new RequestFailure('options.body must be a string unless json is set');
  }
  if (json && !headers.has('accept')) headers.set('accept', 'application/json');
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) throw new RequestFailure(`A ${method} request cannot have a body`);

  // The request library follows redirects for GET and HEAD only, unless followAllRedirects is set.
  const follow = spec.followRedirect !== false && (method === 'GET' || method === 'HEAD' || spec.followAllRedirects === true);
  return { url, init: { method, headers, ...(body !== undefined ? { body } : {}) }, redirect: follow ? 'follow' : 'manual' };
}

/** Reads the body as a stream and stops at the limit, so a huge answer is never held in memory. */
async function readLimited(response: Response, limit: number, controller: AbortController): Promise<string> {
  const tooLarge = () => new RequestFailure(`the response is larger than ${limit} bytes`, 'E_RESPONSE_TOO_LARGE');
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    controller.abort();
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      controller.abort();
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

function headersOf(headers: Headers): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of headers) if (name !== 'set-cookie') result[name] = value;
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) result['set-cookie'] = cookies;
  return result;
}

function appendParams(params: URLSearchParams, values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    for (const item of list) params.append(name, item !== null && typeof item === 'object' ? JSON.stringify(item) : String(item ?? ''));
  }
}

function formEncode(values: Record<string, unknown>): string {
  const params = new URLSearchParams();
  appendParams(params, values);
  return params.toString();
}

function failure(error: unknown): RequestResult {
  if (error instanceof RequestFailure) return { error: { message: error.message, ...(error.code ? { code: error.code } : {}) } };
  // fetch reports network errors as TypeError('fetch failed') with the real reason as the cause.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return { error: { message, ...(typeof code === 'string' ? { code } : {}) } };
}

/** For messages and logs: no query string, which may carry tokens. */
export function describeUrl(url: URL | unknown, base?: unknown): string {
  try {
    const parsed = url instanceof URL ? url : new URL(String(url), typeof base === 'string' ? base : undefined);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
