import { randomBytes } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { SecretDigester } from '../crypto/secrets.js';
import { RELAXED_BY_AUTH0_DEFAULTS } from '../domain/auth0-defaults.js';
import { createClient, REGISTERED_CLIENT_LIMIT, rotateClientSecret } from '../domain/clients.js';
import { DomainError } from '../domain/errors.js';
import type { Client } from '../domain/types.js';
import { recordEvent } from '../events/emit.js';
import type { Storage } from '../storage/types.js';
import { grantTypesForResponseType, responseTypesFor } from './authorize/response-type.js';
import { isLoopbackIp } from './redirect-uri.js';

/** RFC 7591 §3.2.2 errors: a 400 with `{error, error_description}`. */
export class RegistrationError extends Error {
  override name = 'RegistrationError';
  constructor(
    readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata',
    readonly description: string,
  ) {
    super(description);
  }

  toJSON() {
    return { error: this.error, error_description: this.description };
  }
}

const AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;
const LINK_FIELDS = ['client_uri', 'policy_uri', 'tos_uri'] as const;
const MAX_REDIRECT_URIS = 20;

export interface RegistrationRequest {
  client_name?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: (typeof AUTH_METHODS)[number];
  grant_types: string[];
  response_types: string[];
  logo_uri?: string;
  client_uri?: string;
  policy_uri?: string;
  tos_uri?: string;
  contacts?: string[];
}

const invalidMetadata = (description: string) => new RegistrationError('invalid_client_metadata', description);

/**
 * RFC 7591 §2 metadata latchkey reads, typed and bounded; any other member is ignored, as §2 requires.
 * A failure is `invalid_client_metadata`, or `invalid_redirect_uri` for redirect_uris (§3.2.2).
 */
const text = (maxLength: number) => Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength }), Type.Null()]));
const strings = (maxItems: number) =>
  Type.Optional(Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems }), Type.Null()]));
export const RegistrationBody = Type.Object({
  redirect_uris: Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: MAX_REDIRECT_URIS }),
  token_endpoint_auth_method: Type.Optional(Type.Union(AUTH_METHODS.map((m) => Type.Literal(m)))),
  grant_types: strings(5),
  response_types: strings(5),
  contacts: strings(10),
  client_name: text(128),
  logo_uri: text(2048),
  client_uri: text(2048),
  policy_uri: text(2048),
  tos_uri: text(2048),
});

function checkBody(body: unknown): Static<typeof RegistrationBody> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidMetadata('The request body must be a JSON object');
  const first = Value.Errors(RegistrationBody, body).First();
  if (!first) return body as Static<typeof RegistrationBody>;
  const field = first.path.slice(1).split('/')[0] || 'body';
  throw new RegistrationError(field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata', `${field}: ${first.message}`);
}

const optionalString = (body: Record<string, unknown>, field: string) => (body[field] ?? undefined) as string | undefined;
const stringArray = (body: Record<string, unknown>, field: string) => (body[field] ?? undefined) as string[] | undefined;

function httpsUrl(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    if (new URL(value).protocol === 'https:') return value;
  } catch {
    // falls through
  }
  throw invalidMetadata(`${field} must be an https URL`);
}

/**
 * Redirect URIs a self-registered client may use (RFC 8252 §8.4, RFC 9700 §4.1): https, a loopback
 * IP literal over http, or a private-use scheme in reverse domain form (it contains a period), and
 * never a fragment. Anything else would let one app register another's callback.
 */
export function redirectUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not a valid URL';
  }
  if (uri.includes('#')) return 'must not contain a fragment';
  if (url.protocol === 'https:') return url.hostname ? undefined : 'must name a host';
  if (url.protocol === 'http:') {
    return isLoopbackIp(url.hostname) ? undefined : 'may use http only with a loopback IP literal (127.0.0.1 or [::1])';
  }
  const scheme = url.protocol.slice(0, -1);
  if (['javascript', 'data', 'file', 'vbscript', 'blob', 'about', 'ws', 'wss', 'ftp'].includes(scheme))
    return `must not use the ${scheme}: scheme`;
  return scheme.includes('.')
    ? undefined
    : 'must use https, a loopback IP literal, or a private-use scheme in reverse domain form (com.example.app:/callback)';
}

/** What the tenant lets a registration ask for. */
export interface RegistrationPolicy {
  /**
   * Implicit response types (id_token, id_token token, token), as Auth0 allows registered apps;
   * only with tenant setting flags.auth0_compatible_defaults, since tokens in a URL fragment are
   * what RFC 9700 §2.1.2 tells clients to avoid. A registration that names no grant types then gets
   * implicit too, as in Auth0, where the app need not declare it.
   */
  implicit: boolean;
  /** The token grant types registered clients may have: those the grant registry marks so. */
  grantTypes: readonly string[];
}

/** The grant types a registration gets, checked against the response types it asks for (RFC 7591 §2.1). */
function registeredGrantTypes(input: Record<string, unknown>, policy: RegistrationPolicy): string[] {
  const allowed = policy.implicit ? [...policy.grantTypes, 'implicit'] : policy.grantTypes;
  const grantTypes = [
    ...new Set(stringArray(input, 'grant_types') ?? (policy.implicit ? ['authorization_code', 'implicit'] : ['authorization_code'])),
  ];
  const disallowed = grantTypes.filter((g) => !allowed.includes(g));
  if (disallowed.length > 0) {
    const relax = disallowed.includes('implicit') ? ` (implicit: ${RELAXED_BY_AUTH0_DEFAULTS})` : '';
    throw invalidMetadata(`grant_types not allowed for registered clients: ${disallowed.join(', ')}${relax}`);
  }
  if (!grantTypes.includes('authorization_code') && !grantTypes.includes('implicit')) {
    throw invalidMetadata(`grant_types must include authorization_code${policy.implicit ? ' or implicit' : ''}`);
  }
  for (const responseType of stringArray(input, 'response_types') ?? []) {
    const needs = grantTypesForResponseType(responseType);
    if (!needs) throw invalidMetadata(`response_types: ${responseType} is not supported`);
    if (!policy.implicit && needs.includes('implicit')) {
      throw invalidMetadata(`response_types may only contain code (id_token, id_token token and token: ${RELAXED_BY_AUTH0_DEFAULTS})`);
    }
    const lacking = needs.filter((g) => !grantTypes.includes(g));
    if (lacking.length > 0) throw invalidMetadata(`response_types: ${responseType} needs grant_types ${lacking.join(', ')}`);
  }
  return grantTypes;
}

/** Reads an RFC 7591 registration request; unknown metadata is ignored, as §2 requires. */
export function parseRegistration(body: unknown, policy: RegistrationPolicy): RegistrationRequest {
  const input: Record<string, unknown> = checkBody(body);
  const redirectUris = input.redirect_uris as string[];
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new RegistrationError('invalid_redirect_uri', `redirect_uri ${uri} ${problem}`);
  }
  const method = input.token_endpoint_auth_method ?? 'client_secret_post';
  const grantTypes = registeredGrantTypes(input, policy);
  const contacts = stringArray(input, 'contacts');
  const request: RegistrationRequest = {
    redirect_uris: [...new Set(redirectUris)],
    token_endpoint_auth_method: method as RegistrationRequest['token_endpoint_auth_method'],
    grant_types: grantTypes,
    response_types: responseTypesFor(grantTypes),
    ...(contacts ? { contacts } : {}),
  };
  const name = optionalString(input, 'client_name');
  if (name !== undefined) request.client_name = name;
  const logo = httpsUrl('logo_uri', optionalString(input, 'logo_uri'));
  if (logo !== undefined) request.logo_uri = logo;
  for (const field of LINK_FIELDS) {
    const value = httpsUrl(field, optionalString(input, field));
    if (value !== undefined) request[field] = value;
  }
  return request;
}

/** What a registered client's metadata reads as, from the stored client (RFC 7591 §3.2.1, RFC 7592 §3). */
function metadataOf(client: Client) {
  const links = client.client_metadata;
  return {
    client_name: client.name,
    redirect_uris: client.callbacks,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: client.grant_types,
    response_types: responseTypesFor(client.grant_types),
    ...(client.logo_uri ? { logo_uri: client.logo_uri } : {}),
    ...Object.fromEntries(LINK_FIELDS.filter((f) => links[f]).map((f) => [f, links[f]])),
    ...(links.contacts ? { contacts: links.contacts.split(', ') } : {}),
  };
}

/** RFC 7592 fields: the token only in the registration response, the URI in every response. */
export interface RegistrationManagement {
  registration_access_token?: string;
  registration_client_uri: string;
}

/** The registration response: the stored metadata, and the secret (only when just made). */
export function registrationResponse(
  client: Client,
  secret: string | undefined,
  issuedAt: number | undefined,
  management?: RegistrationManagement,
) {
  return {
    client_id: client.client_id,
    ...(secret !== undefined ? { client_secret: secret } : {}),
    client_secret_expires_at: 0,
    ...(issuedAt !== undefined ? { client_id_issued_at: Math.floor(issuedAt / 1000) } : {}),
    ...metadataOf(client),
    ...management,
  };
}

/** The client fields a registration request sets, on create and on RFC 7592 update alike. */
function clientFields(request: RegistrationRequest) {
  return {
    name: request.client_name ?? 'Unnamed application',
    app_type: request.token_endpoint_auth_method === 'none' ? ('native' as const) : ('regular_web' as const),
    ...(request.logo_uri ? { logo_uri: request.logo_uri } : {}),
    callbacks: request.redirect_uris,
    grant_types: request.grant_types,
    token_endpoint_auth_method: request.token_endpoint_auth_method,
    client_metadata: {
      ...Object.fromEntries(LINK_FIELDS.filter((f) => request[f]).map((f) => [f, request[f]!])),
      ...(request.contacts ? { contacts: request.contacts.join(', ') } : {}),
    },
  };
}

/**
 * RFC 7592 §2.2: the request replaces the metadata; the client stays third-party and dynamic. A
 * public client that becomes confidential gets a secret, shown in this response only.
 */
export async function updateRegisteredClient(
  storage: Storage,
  digester: SecretDigester,
  client: Client,
  request: RegistrationRequest,
): Promise<{ client: Client; secret?: string }> {
  const { logo_uri: _logo, ...withoutLogo } = client;
  const updated: Client = { ...(request.logo_uri ? client : withoutLogo), ...clientFields(request), is_first_party: false };
  await storage.clients.update(updated);
  if (client.token_endpoint_auth_method === 'none' && updated.token_endpoint_auth_method !== 'none') {
    return rotateClientSecret(storage, digester, client.client_id);
  }
  return { client: updated };
}

/** A fresh registration access token (RFC 7592 §1.1); only its digest is kept. */
export async function issueRegistrationToken(
  storage: Pick<Storage, 'registrations'>,
  digester: SecretDigester,
  clientId: string,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await storage.registrations.putTokenDigest(clientId, digester.digest(token));
  return token;
}

export async function registrationTokenValid(
  storage: Pick<Storage, 'registrations'>,
  digester: SecretDigester,
  clientId: string,
  token: string,
): Promise<boolean> {
  const digest = await storage.registrations.getTokenDigest(clientId);
  return digest !== undefined && digester.verify(token, digest);
}

/**
 * Creates the third-party client a registration asks for; undefined when the tenant already holds
 * `maxRegistered` registered clients (checked atomically with the insert).
 */
export async function registerClient(
  storage: Pick<Storage, 'clients'>,
  digester: SecretDigester,
  request: RegistrationRequest,
  options: { clientIdPrefix: string; maxRegistered: number },
): Promise<{ client: Client; secret: string | undefined } | undefined> {
  try {
    const { client, secret } = await createClient(
      storage,
      digester,
      { ...clientFields(request), is_first_party: false },
      {
        clientId: `${options.clientIdPrefix}${randomBytes(18).toString('base64url')}`,
        dynamic: true,
        maxRegistered: options.maxRegistered,
      },
    );
    recordEvent({
      type: 'client_registered',
      client_id: client.client_id,
      client_name: client.name,
      details: { redirect_uris: client.callbacks, grant_types: client.grant_types },
    });
    return { client, secret: request.token_endpoint_auth_method === 'none' ? undefined : secret };
  } catch (err) {
    if (err instanceof DomainError && err.code === REGISTERED_CLIENT_LIMIT) return undefined;
    throw err;
  }
}
