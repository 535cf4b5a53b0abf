import type { Client } from '../domain/types.js';
import { isLoopbackIp } from './redirect-uri.js';

/**
 * Origins that browsers may call the token, userinfo and revocation endpoints from (CORS), as one
 * client allows them: its web origins and allowed origins, and the origins of its http(s) callbacks.
 * A loopback callback registered without a port takes redirects on any port (RFC 8252 §7.3), so it
 * also allows `http://127.0.0.1:*`, which stands for that loopback origin on any port. These are the
 * keys of the storage's origin index; `originKeys` names the keys a request's Origin matches.
 */
export function browserOriginsOf(client: Pick<Client, 'callbacks' | 'web_origins' | 'allowed_origins'>): string[] {
  const origins = new Set<string>();
  for (const url of [...client.web_origins, ...client.allowed_origins, ...client.callbacks]) {
    const origin = httpOrigin(url);
    if (origin) origins.add(origin);
  }
  for (const url of client.callbacks) {
    const anyPort = anyPortLoopback(url);
    if (anyPort) origins.add(anyPort);
  }
  return [...origins];
}

/** The index keys that allow `origin`: itself and, for a loopback origin with a port, the any-port key. */
export function originKeys(origin: string): string[] {
  const loopback = /^http:\/\/(127\.0\.0\.1|\[::1\]):\d{1,5}$/.exec(origin);
  return loopback ? [origin, `http://${loopback[1]}:*`] : [origin];
}

/**
 * `http://127.0.0.1:*` for a loopback IP callback registered without a port, as redirect URI matching
 * treats it. The string is read, not a parsed URL: `http://127.0.0.1:80/cb` parses as portless but
 * is matched exactly.
 */
function anyPortLoopback(url: string): string | undefined {
  const host = /^http:\/\/(127\.0\.0\.1|\[::1\])(?:[/?#]|$)/.exec(url)?.[1];
  return host !== undefined && isLoopbackIp(host) ? `http://${host}:*` : undefined;
}

function httpOrigin(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}
