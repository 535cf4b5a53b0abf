import type { Encrypter } from '../crypto/encryption.js';
import type { Connection, ConnectionStrategy } from '../storage/types.js';
import { badRequest } from './errors.js';

/** Where a sealed client secret lives in stored options; never shown as is. */
const SEALED_SECRET = 'client_secret_sealed';
const MAX_SCRIPT_LENGTH = 64 * 1024;

function httpUrl(options: Record<string, unknown>, field: string, required: boolean): void {
  const value = options[field];
  if (value === undefined && !required) return;
  if (typeof value !== 'string') throw badRequest(`Payload validation error: options.${field} is required (an http(s) URL)`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`Payload validation error: options.${field} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw badRequest(`Payload validation error: options.${field} must be an http(s) URL`);
}

function text(options: Record<string, unknown>, field: string, required: boolean, maxLength = 2048): void {
  const value = options[field];
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw badRequest(`Payload validation error: options.${field} must be a string of 1 to ${maxLength} characters`);
  }
}

/**
 * Options of upstream connections, as Auth0 names them: `oauth2` (authorizationURL, tokenURL,
 * client_id, client_secret, scope, scripts.fetchUserProfile, customHeaders, pkce_enabled) and `oidc`
 * (discovery_url or issuer, client_id, client_secret, scope).
 */
export function assertUpstreamOptions(strategy: ConnectionStrategy, options: Record<string, unknown>): void {
  if (strategy === 'auth0') return;
  text(options, 'client_id', true, 512);
  text(options, 'client_secret', false, 2048);
  const scope = options.scope;
  if (scope !== undefined && typeof scope !== 'string' && !(Array.isArray(scope) && scope.every((s) => typeof s === 'string'))) {
    throw badRequest('Payload validation error: options.scope must be a string or an array of strings');
  }
  if (strategy === 'oauth2') {
    httpUrl(options, 'authorizationURL', true);
    httpUrl(options, 'tokenURL', true);
    const scripts = options.scripts as Record<string, unknown> | undefined;
    if (typeof scripts?.fetchUserProfile !== 'string' || scripts.fetchUserProfile.length > MAX_SCRIPT_LENGTH) {
      throw badRequest('Payload validation error: options.scripts.fetchUserProfile is required (a function, as source text)');
    }
    const headers = options.customHeaders;
    if (headers !== undefined && (typeof headers !== 'object' || headers === null || !Object.values(headers).every((v) => typeof v === 'string'))) {
      throw badRequest('Payload validation error: options.customHeaders must map header names to strings');
    }
    if (options.pkce_enabled !== undefined && typeof options.pkce_enabled !== 'boolean') {
      throw badRequest('Payload validation error: options.pkce_enabled must be a boolean');
    }
  } else {
    if (options.discovery_url === undefined && options.issuer === undefined) {
      throw badRequest('Payload validation error: options.discovery_url or options.issuer is required');
    }
    httpUrl(options, 'discovery_url', false);
    httpUrl(options, 'issuer', false);
  }
}

/** Encrypts the client secret for storage; a secret left out of an update keeps the stored one. */
export function sealOptions(secrets: Encrypter, name: string, options: Record<string, unknown>, previous?: Record<string, unknown>): Record<string, unknown> {
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
