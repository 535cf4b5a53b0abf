/**
 * One interactive sign-in of a native app, step by step (authorization code with PKCE through the
 * hosted login page), and the loads built on it: sign-ins and rotating refresh grants under
 * autocannon, with the server's (and PostgreSQL's) CPU per operation. Shared by the login-flow and
 * scale benchmarks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { cpuMs, percentile, processCpuMs, type ServerProcess } from './harness.js';
import type { StorageKind } from './latchkey.js';

export const API_IDENTIFIER = 'https://bench.latchkey.local/api';
export const PASSWORD = 'Bench-password-1';
/** Registered as http://127.0.0.1/callback: loopback redirect URIs match on any port (RFC 8252 §7.3). Nothing listens there. */
export const REGISTERED_CALLBACK = 'http://127.0.0.1/callback';
const REDIRECT_URI = 'http://127.0.0.1:8400/callback';
const SCOPE = 'openid profile offline_access';
const FORM = 'application/x-www-form-urlencoded';

// ---------------------------------------------------------------------------------------------
// The tenant: what an operator sets up for a desktop app
export interface Tenant {
  issuer: string;
  clientId: string;
  emails: string[];
}

// ---------------------------------------------------------------------------------------------
// One sign-in, step by step: the same requests and checks for the verification before the load
// (with fetch) and under load (with autocannon).

/** One sign-in's state, carried from one request to the next. */
interface SignIn {
  startedAt: number;
  email: string;
  verifier: string;
  state: string;
  txId: string;
  /** `latchkey_tx_<12 chars of the transaction id>=<csrf>`: the double-submit cookie. */
  txCookie: string;
  csrf: string;
  code: string;
  tokens?: Tokens;
  /** How many steps have been answered as expected. */
  answered: number;
}

interface StepRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

type Headers = Record<string, string | string[] | undefined>;

interface Step {
  name: string;
  request(tenant: Tenant, flow: SignIn): StepRequest;
  /** Reads what the next steps need from the response; throws if it is not what a browser expects. */
  read(tenant: Tenant, flow: SignIn, status: number, body: string, headers: Headers): void;
}

function header(headers: Headers, name: string): string[] {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value === undefined ? [] : Array.isArray(value) ? value : [value];
  }
  return [];
}

/** A response body short enough for a failure report: a hosted page as its text, without markup. */
function bodySample(body: string): string {
  const text = body.trimStart().startsWith('<')
    ? body.replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ')
    : body;
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

function expectResponse(status: number, expected: number, body: string): void {
  if (status !== expected) throw new Error(`expected ${expected}, got ${status} ${bodySample(body)}`);
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

const pkceChallenge = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

function newSignIn(email: string): SignIn {
  return {
    startedAt: performance.now(),
    email,
    verifier: randomBytes(32).toString('base64url'),
    state: randomBytes(12).toString('base64url'),
    txId: '',
    txCookie: '',
    csrf: '',
    code: '',
    answered: 0,
  };
}

/** The token response of the code exchange, checked: what a native app keeps. */
export interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token: string;
}

export function parseTokens(status: number, body: string): Tokens {
  expectResponse(status, 200, body);
  const tokens = JSON.parse(body) as Partial<Tokens>;
  for (const name of ['access_token', 'id_token', 'refresh_token'] as const) {
    if (typeof tokens[name] !== 'string') throw new Error(`no ${name} in ${bodySample(body)}`);
  }
  return tokens as Tokens;
}

const SIGN_IN_STEPS: Step[] = [
  {
    name: 'GET /authorize',
    request: (tenant, flow) => {
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: tenant.clientId,
        redirect_uri: REDIRECT_URI,
        scope: SCOPE,
        audience: API_IDENTIFIER,
        state: flow.state,
        nonce: randomBytes(12).toString('base64url'),
        code_challenge: pkceChallenge(flow.verifier),
        code_challenge_method: 'S256',
      });
      return { method: 'GET', path: `/authorize?${query}`, headers: {} };
    },
    read: (_tenant, flow, status, body, headers) => {
      expectResponse(status, 302, body);
      const location = header(headers, 'location')[0] ?? '';
      if (!location.startsWith('/u/login?')) throw new Error(`redirected to ${location}, not /u/login`);
      flow.txId = new URLSearchParams(location.slice('/u/login?'.length)).get('state') ?? '';
      const cookieName = `latchkey_tx_${flow.txId.slice(0, 12)}`;
      const cookie = header(headers, 'set-cookie').find((c) => c.startsWith(`${cookieName}=`));
      if (!flow.txId || !cookie) throw new Error(`no transaction cookie ${cookieName} in ${JSON.stringify(header(headers, 'set-cookie'))}`);
      flow.txCookie = cookie.split(';')[0] ?? '';
      flow.csrf = flow.txCookie.slice(cookieName.length + 1);
    },
  },
  {
    // What a browser shows; its form carries the transaction and the CSRF token.
    name: 'GET /u/login',
    request: (_tenant, flow) => ({
      method: 'GET',
      path: `/u/login?state=${encodeURIComponent(flow.txId)}`,
      headers: { cookie: flow.txCookie },
    }),
    read: (_tenant, flow, status, body) => {
      expectResponse(status, 200, body);
      if (!body.includes(flow.csrf)) throw new Error('the login page does not carry the CSRF token');
    },
  },
  {
    // No latchkey_session cookie is ever sent back, so every sign-in checks a password.
    name: 'POST /u/login',
    request: (_tenant, flow) => ({
      method: 'POST',
      path: '/u/login',
      headers: { 'content-type': FORM, cookie: flow.txCookie },
      body: new URLSearchParams({ state: flow.txId, csrf: flow.csrf, username: flow.email, password: PASSWORD }).toString(),
    }),
    read: (tenant, flow, status, body, headers) => {
      expectResponse(status, 302, body);
      const location = header(headers, 'location')[0] ?? '';
      const url = parseUrl(location);
      if (!url || `${url.origin}${url.pathname}` !== REDIRECT_URI) throw new Error(`redirected to ${location}, not ${REDIRECT_URI}`);
      const { searchParams: params } = url;
      if (params.get('state') !== flow.state || params.get('iss') !== tenant.issuer || !params.get('code')) {
        throw new Error(`unexpected authorization response ${location}`);
      }
      flow.code = params.get('code') ?? '';
    },
  },
  {
    name: 'POST /oauth/token (code)',
    request: (tenant, flow) => ({
      method: 'POST',
      path: '/oauth/token',
      headers: { 'content-type': FORM },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: tenant.clientId,
        code: flow.code,
        code_verifier: flow.verifier,
        redirect_uri: REDIRECT_URI,
      }).toString(),
    }),
    read: (_tenant, flow, status, body) => {
      flow.tokens = parseTokens(status, body);
    },
  },
];

export const refreshForm = (tenant: Tenant, refreshToken: string) =>
  new URLSearchParams({ grant_type: 'refresh_token', client_id: tenant.clientId, refresh_token: refreshToken }).toString();

function decodeJwt(token: string): { header: { alg?: string }; payload: Record<string, unknown> } {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) throw new Error('not a JWS compact token');
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(header), payload: decode(payload) };
}

/** The tokens a native app gets: RS256 JWTs, the access token for the API, the ID token for the client. */
function expectAppTokens(tenant: Tenant, tokens: Tokens): void {
  const access = decodeJwt(tokens.access_token);
  const id = decodeJwt(tokens.id_token);
  if (access.header.alg !== 'RS256' || id.header.alg !== 'RS256')
    throw new Error(`tokens signed with ${access.header.alg}/${id.header.alg}, not RS256`);
  const audiences = [access.payload.aud].flat();
  if (!audiences.includes(API_IDENTIFIER)) throw new Error(`access token for ${JSON.stringify(access.payload.aud)}, not ${API_IDENTIFIER}`);
  if (id.payload.aud !== tenant.clientId) throw new Error(`ID token for ${JSON.stringify(id.payload.aud)}, not the client`);
}

/** One sign-in with fetch, as a browser and the app would do it; throws with the failing step. */
export async function signInOnce(tenant: Tenant, email: string): Promise<Tokens> {
  const flow = newSignIn(email);
  for (const step of SIGN_IN_STEPS) {
    const request = step.request(tenant, flow);
    const response = await fetch(new URL(request.path, tenant.issuer), {
      method: request.method,
      headers: request.headers,
      redirect: 'manual',
      ...(request.body !== undefined ? { body: request.body } : {}),
    });
    const body = await response.text();
    const headers: Headers = { ...Object.fromEntries(response.headers), 'set-cookie': response.headers.getSetCookie() };
    try {
      step.read(tenant, flow, response.status, body, headers);
    } catch (err) {
      throw new Error(`sign-in, ${step.name}: ${(err as Error).message}`);
    }
  }
  if (!flow.tokens) throw new Error('sign-in: no tokens');
  return flow.tokens;
}

/** A full sign-in and a refresh before any load, so the benchmark measures sign-ins and not errors. */
export async function verifyFlow(tenant: Tenant, email: string): Promise<string> {
  const tokens = await signInOnce(tenant, email);
  expectAppTokens(tenant, tokens);
  const response = await fetch(new URL('/oauth/token', tenant.issuer), {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: refreshForm(tenant, tokens.refresh_token),
  });
  const body = await response.text();
  let refreshed: Tokens;
  try {
    refreshed = parseTokens(response.status, body);
  } catch (err) {
    throw new Error(`refresh grant: ${(err as Error).message}`);
  }
  expectAppTokens(tenant, refreshed);
  // Native apps rotate by default; the refresh phase depends on it (and would show reuse otherwise).
  if (refreshed.refresh_token === tokens.refresh_token) throw new Error('the refresh grant did not rotate the refresh token');
  return refreshed.refresh_token;
}

// ---------------------------------------------------------------------------------------------
// CPU readings

/** All processes named postgres: the database's own CPU, when it runs on this machine. */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += processCpuMs(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

interface CpuReading {
  serverMs: number;
  postgresMs: number;
  benchMs: number;
  at: number;
}

function readCpu(server: ServerProcess, storage: StorageKind): CpuReading {
  const own = process.cpuUsage();
  return {
    serverMs: cpuMs(server),
    postgresMs: storage === 'postgres' ? postgresCpuMs() : 0,
    benchMs: (own.user + own.system) / 1000,
    at: performance.now(),
  };
}

export interface CpuUse {
  /** Server CPU per completed operation, in ms. */
  serverMsEach: number;
  /** PostgreSQL CPU (all its processes, other users' queries included) per completed operation, in ms; NaN on SQLite. */
  postgresMsEach: number;
  /** This process (the load generator) as a share of one core. */
  benchPercent: number;
}

function cpuUse(before: CpuReading, after: CpuReading, completed: number, storage: StorageKind): CpuUse {
  const each = (ms: number) => (completed > 0 ? ms / completed : Number.NaN);
  return {
    serverMsEach: each(after.serverMs - before.serverMs),
    postgresMsEach: storage === 'postgres' ? each(after.postgresMs - before.postgresMs) : Number.NaN,
    benchPercent: ((after.benchMs - before.benchMs) / (after.at - before.at)) * 100,
  };
}

// ---------------------------------------------------------------------------------------------
// Load

export interface PhaseFigures {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
  /** Responses that were not what the step expects. */
  failed: number;
  timeouts: number;
  connectionErrors: number;
  failureSamples: string[];
  cpu: CpuUse;
}

export const totalFailures = (f: PhaseFigures) => f.failed + f.timeouts + f.connectionErrors;

/** Both phases report the same figures from their latencies, failures and CPU readings. */
function phaseFigures(
  latencies: number[],
  before: CpuReading,
  after: CpuReading,
  result: { timeouts: number; errors: number },
  failed: number,
  failureSamples: string[],
  storage: StorageKind,
): PhaseFigures {
  const sorted = Float64Array.from(latencies).sort();
  return {
    perSecond: (latencies.length * 1000) / (after.at - before.at),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    completed: latencies.length,
    failed,
    timeouts: result.timeouts,
    connectionErrors: result.errors - result.timeouts,
    failureSamples,
    cpu: cpuUse(before, after, latencies.length, storage),
  };
}

/** Starts autocannon and resolves with its result; `onInstance` may listen to its events. */
export function autocannonRun(
  options: autocannon.Options,
  onInstance?: (instance: autocannon.Instance) => void,
): Promise<autocannon.Result> {
  return new Promise((resolveRun, reject) => {
    const instance = autocannon(options, (err, result) => (err ? reject(err) : resolveRun(result)));
    onInstance?.(instance);
  });
}

/** autocannon restarts a connection's sequence from its first request when setupRequest returns a falsy value. */
const RESTART_SEQUENCE = null as unknown as autocannon.Request;

/**
 * Each connection signs in over and over: the four requests of one sign-in are autocannon's request
 * sequence, and the sign-in's state lives in the sequence's context, which autocannon resets
 * before the first request. A step that fails (or whose response was lost to a timeout) restarts
 * the sequence with a new sign-in. Refresh tokens of completed sign-ins go to `refreshTokens`.
 */
export async function runSignIns(
  tenant: Tenant,
  server: ServerProcess,
  storage: StorageKind,
  run: { seconds: number; connections: number },
  refreshTokens?: string[],
): Promise<PhaseFigures> {
  const latencies: number[] = [];
  const failureSamples: string[] = [];
  let failed = 0;
  let nextUser = 0;
  const requests: autocannon.Request[] = SIGN_IN_STEPS.map((step, index) => ({
    setupRequest: (request, context) => {
      const flow = context as SignIn;
      if (index === 0) Object.assign(flow, newSignIn(tenant.emails[nextUser++ % tenant.emails.length] ?? ''));
      else if (flow.answered !== index) return RESTART_SEQUENCE;
      const { method, path, headers, body } = step.request(tenant, flow);
      return { ...request, method, path, headers, ...(body !== undefined ? { body } : {}) };
    },
    onResponse: (status, body, context, headers) => {
      const flow = context as SignIn;
      try {
        step.read(tenant, flow, status, body, headers ?? {});
      } catch (err) {
        failed++;
        if (failureSamples.length < 5) failureSamples.push(`${step.name}: ${(err as Error).message}`);
        return;
      }
      flow.answered = index + 1;
      if (index === SIGN_IN_STEPS.length - 1) {
        latencies.push(performance.now() - flow.startedAt);
        if (flow.tokens) refreshTokens?.push(flow.tokens.refresh_token);
      }
    },
  }));
  const before = readCpu(server, storage);
  const result = await autocannonRun({ url: tenant.issuer, connections: run.connections, duration: run.seconds, requests });
  return phaseFigures(latencies, before, readCpu(server, storage), result, failed, failureSamples, storage);
}

/**
 * Each connection refreshes its own token family over and over, storing the rotated refresh token
 * from each response for the next request (autocannon sends a connection's requests one after
 * another, so this is race-free). The token is kept per connection outside autocannon's context,
 * which it resets before every pass over a one-request sequence.
 *
 * A lost response (timeout, connection error) leaves the connection holding a token the server has
 * already rotated: presenting it again is reuse, which revokes the family. A connection whose
 * refresh fails takes a spare token and carries on; the failures are reported.
 *
 * With `perConnection`, every connection stops after that many responses, all of them read, so the
 * tokens stay usable for a following run; otherwise the run ends after `seconds`, dropping the
 * requests in flight.
 */
export async function runRefreshes(
  tenant: Tenant,
  server: ServerProcess,
  storage: StorageKind,
  tokens: string[],
  spares: string[],
  run: { seconds: number } | { perConnection: number },
): Promise<PhaseFigures> {
  const latencies: number[] = [];
  const failureSamples: string[] = [];
  let failed = 0;
  let nextSlot = 0;
  const setupClient = (client: autocannon.Client) => {
    const slot = nextSlot++;
    client.setRequests([
      {
        method: 'POST',
        path: '/oauth/token',
        headers: { 'content-type': FORM },
        setupRequest: (request) => ({ ...request, body: refreshForm(tenant, tokens[slot] ?? '') }),
        onResponse: (status, body) => {
          try {
            tokens[slot] = parseTokens(status, body).refresh_token;
          } catch (err) {
            failed++;
            if (failureSamples.length < 5) failureSamples.push(`refresh: ${(err as Error).message}`);
            tokens[slot] = spares.pop() ?? tokens[slot] ?? '';
          }
        },
      },
    ]);
  };
  const options: autocannon.Options = {
    url: tenant.issuer,
    connections: tokens.length,
    setupClient,
    ...('seconds' in run ? { duration: run.seconds } : { maxConnectionRequests: run.perConnection, duration: 120 }),
  };
  const before = readCpu(server, storage);
  const result = await autocannonRun(options, (instance) => {
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) latencies.push(responseTime);
    });
  });
  return phaseFigures(latencies, before, readCpu(server, storage), result, failed, failureSamples, storage);
}
