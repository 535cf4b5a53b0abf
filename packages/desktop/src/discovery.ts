import { type FetchLike, isLoopbackHost } from './config.js';
import { DiscoveryFailed } from './errors.js';

/** The part of the OpenID Provider metadata the SDK uses. */
export interface ServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  revocation_endpoint?: string;
  device_authorization_endpoint?: string;
  /** OpenID RP-Initiated Logout 1.0; absent at Auth0 tenants without it enabled (they use /v2/logout). */
  end_session_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
}

/**
 * Reads `/.well-known/openid-configuration`. Its `issuer` must be ours (OIDC Discovery §4.3):
 * otherwise a look-alike server could hand out endpoints for tokens it then checks against itself.
 * `issuer` is written with a trailing slash (Auth0's form); a provider whose issuer has none
 * (oidc-provider, Keycloak, Entra) is accepted for the same URL, and its own spelling is what the
 * id_token's `iss` is then compared with, exactly.
 */
export async function discover(issuer: string, fetchImpl: FetchLike, signal?: AbortSignal): Promise<ServerMetadata> {
  const url = `${issuer}.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new DiscoveryFailed(`Could not reach ${url}`, { cause });
  }
  if (!response.ok) throw new DiscoveryFailed(`${url} answered ${response.status}`);
  const metadata = (await response.json().catch(() => undefined)) as Partial<ServerMetadata> | undefined;
  if (!metadata || typeof metadata !== 'object') throw new DiscoveryFailed(`${url} is not JSON`);
  if (metadata.issuer !== issuer && `${metadata.issuer}/` !== issuer)
    throw new DiscoveryFailed(`The discovery document names issuer ${String(metadata.issuer)}, expected ${issuer}`);
  for (const field of ENDPOINTS) {
    const value = metadata[field];
    if ((value === undefined || value === null) && !REQUIRED.has(field)) continue;
    if (typeof value !== 'string') throw new DiscoveryFailed(`The discovery document has no ${field}`);
    if (!isSecureEndpoint(value))
      throw new DiscoveryFailed(`The discovery document's ${field} is not an https URL: ${value.slice(0, 200)}`);
  }
  return metadata as ServerMetadata;
}

const REQUIRED = new Set<keyof ServerMetadata>(['authorization_endpoint', 'token_endpoint', 'jwks_uri']);
const ENDPOINTS = [
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'revocation_endpoint',
  'device_authorization_endpoint',
  'end_session_endpoint',
] as const;

/**
 * Refresh tokens go to the token and revocation endpoints, the id_token to the end_session one, and
 * the authorization and logout URLs are handed to the OS opener (shell.openExternal in Electron,
 * where a file: or smb: URL runs programs): https only, http on loopback as for the issuer.
 */
function isSecureEndpoint(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  } catch {
    return false;
  }
}
