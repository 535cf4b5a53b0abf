/**
 * Redirect URI matching: exact string comparison (RFC 9700 §4.1.3), with one exception. A native
 * app's loopback listener gets an ephemeral port, so a registered loopback IP literal without a
 * port matches any port (RFC 8252 §7.3). `localhost` gets no such leeway (RFC 8252 §8.3).
 */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || !isLoopbackIp(url.hostname) || url.port === '') return false;
  // Drop the port from the string exactly as sent; anything unusual before the path fails the match.
  const prefix = `http://${url.hostname}:${url.port}`;
  if (!requested.startsWith(prefix)) return false;
  return registered.includes(`http://${url.hostname}${requested.slice(prefix.length)}`);
}

export function isLoopbackIp(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === '[::1]';
}
