import { invalidField } from './errors.js';

/**
 * Callback, logout and origin URLs as admins register them. Any scheme is allowed (native apps use
 * custom schemes, RFC 8252 §7.1), but never a fragment (RFC 6749 §3.1.2) or something unparsable.
 */
export function assertUrls(field: string, urls: string[] | undefined, { origins = false } = {}): void {
  for (const value of urls ?? []) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalidField(field, `'${field}' contains an invalid URL: ${JSON.stringify(value)}`);
    }
    if (value.includes('#')) throw invalidField(field, `'${field}' URLs must not contain a fragment`);
    if (origins && (url.pathname !== '/' || url.search) && url.origin !== 'null') {
      throw invalidField(field, `'${field}' must contain origins (scheme://host[:port]) only`);
    }
  }
}
