import type { Encrypter } from '../crypto/encryption.js';
import type { Connection, ConnectionStrategy } from '../domain/types.js';
import { invalidField } from './errors.js';

/** Where a sealed client secret lives in stored options; never shown as is. */
const SEALED_SECRET = 'client_secret_sealed';

/** `URL.parse` of Node 22, for Node 20. */
function parseUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * Plain http is accepted for loopback providers only (development, tests): anywhere else the
 * provider's answers, tokens and keys must come over TLS, as Auth0 requires of its connections.
 */
export function insecureUrlAllowed(url: string): boolean {
  const parsed = parseUrl(url);
  return parsed?.protocol === 'http:' && LOOPBACK_HOSTS.test(parsed.hostname);
}

/** Why a URL cannot be an upstream provider's, or undefined when it can. */
export function upstreamUrlProblem(value: string): string | undefined {
  const url = parseUrl(value);
  if (!url) return 'is not a valid URL';
  if (url.protocol === 'https:' || insecureUrlAllowed(value)) return undefined;
  return url.protocol === 'http:' ? 'must be an https URL (http only for a loopback address)' : 'must be an https URL';
}

function httpUrl(options: Record<string, unknown>, field: string, required: boolean): void {
  const value = options[field];
  if (value === undefined && !required) return;
  if (typeof value !== 'string') throw invalidField(`options.${field}`, `options.${field} is required (an https URL)`);
  const problem = upstreamUrlProblem(value);
  if (problem) throw invalidField(`options.${field}`, `options.${field} ${problem}`);
}

const OIDC_WELL_KNOWN = '/.well-known/openid-configuration';
const OAUTH_WELL_KNOWN = '/.well-known/oauth-authorization-server';

/**
 * The issuer an OIDC provider must name in its discovery document and in every `iss` it sends:
 * `options.issuer`, or else read off `options.discovery_url` (OIDC Discovery §4: the issuer plus
 * /.well-known/openid-configuration; RFC 8414 §3: the well-known segment before the issuer's
 * path). `discoveryUrl` is set when that document is not at the issuer's default location.
 */
export function expectedIssuerOf(options: Record<string, unknown>): { issuer: URL; discoveryUrl?: string } | { problem: string } {
  const discoveryUrl = typeof options.discovery_url === 'string' ? options.discovery_url : undefined;
  if (typeof options.issuer === 'string') {
    const issuer = parseUrl(options.issuer);
    if (!issuer) return { problem: 'options.issuer is not a valid URL' };
    return { issuer, ...(discoveryUrl !== undefined ? { discoveryUrl } : {}) };
  }
  const url = discoveryUrl !== undefined ? parseUrl(discoveryUrl) : null;
  if (!url) return { problem: 'options.discovery_url or options.issuer is required (a URL)' };
  const path = url.pathname;
  let issuerPath: string | undefined;
  if (path.endsWith(OIDC_WELL_KNOWN)) issuerPath = path.slice(0, -OIDC_WELL_KNOWN.length);
  else if (path === OAUTH_WELL_KNOWN || path.startsWith(`${OAUTH_WELL_KNOWN}/`)) issuerPath = path.slice(OAUTH_WELL_KNOWN.length);
  if (issuerPath === undefined || url.search) {
    return { problem: 'options.discovery_url is not at a well-known location, so options.issuer must name the expected issuer' };
  }
  return { issuer: new URL(`${url.origin}${issuerPath}`), discoveryUrl: url.href };
}

/**
 * What the options schemas (http/management/connection-options.ts, one per strategy) cannot say:
 * provider URLs are https (http for loopback only), and an OIDC provider has an issuer to expect.
 */
export function assertUpstreamOptions(strategy: ConnectionStrategy, options: Record<string, unknown>): void {
  if (strategy === 'auth0') return;
  if (strategy === 'oauth2') {
    httpUrl(options, 'authorizationURL', true);
    httpUrl(options, 'tokenURL', true);
    httpUrl(options, 'issuer', false);
  } else {
    if (options.discovery_url === undefined && options.issuer === undefined) {
      throw invalidField('options.discovery_url', 'options.discovery_url or options.issuer is required');
    }
    httpUrl(options, 'discovery_url', false);
    httpUrl(options, 'issuer', false);
    const expected = expectedIssuerOf(options);
    if ('problem' in expected) throw invalidField('options.issuer', expected.problem);
  }
}

/** Encrypts the client secret for storage; a secret left out of an update keeps the stored one. */
export function sealOptions(
  secrets: Encrypter,
  name: string,
  options: Record<string, unknown>,
  previous?: Record<string, unknown>,
): Record<string, unknown> {
  const { client_secret: secret, [SEALED_SECRET]: _ignored, ...rest } = options;
  if (typeof secret === 'string') return { ...rest, [SEALED_SECRET]: secrets.encrypt(secret, `connection ${name}`) };
  return previous?.[SEALED_SECRET] ? { ...rest, [SEALED_SECRET]: previous[SEALED_SECRET] } : rest;
}

/** The client secret of an upstream connection, for talking to the provider. */
export function connectionSecret(secrets: Encrypter, connection: Connection): string | undefined {
  const sealed = connection.options[SEALED_SECRET];
  return typeof sealed === 'string' ? secrets.decrypt(sealed, `connection ${connection.name}`) : undefined;
}

/** Options as the Management API shows them: the secret only to tokens allowed to read it. */
export function presentOptions(secrets: Encrypter, connection: Connection, withSecrets: boolean): Connection {
  if (!(SEALED_SECRET in connection.options)) return connection;
  const { [SEALED_SECRET]: _sealed, ...options } = connection.options;
  const secret = withSecrets ? connectionSecret(secrets, connection) : undefined;
  return { ...connection, options: secret !== undefined ? { ...options, client_secret: secret } : options };
}
