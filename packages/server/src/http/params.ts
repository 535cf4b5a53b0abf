import { OAuthError } from '../oauth/errors.js';

export interface ParamRules {
  /** The parameters the endpoint reads; others are ignored (Auth0 ignores unknown ones). All when absent. */
  names?: ReadonlySet<string>;
  /** Longer values are refused by name rather than cut or dropped. */
  maxLength?: number;
}

/**
 * The one reader of request parameters (query, form or JSON body) for /authorize, /oauth/token,
 * /oauth/revoke, /oauth/device/code, the logout endpoints and the hosted pages' forms. One rule:
 * RFC 6749 §3.1, a parameter MUST NOT be included more than once, so a repeated one is
 * `invalid_request` naming it, never a silent choice of one value. Values are strings; a JSON
 * value of another type is refused too. null/undefined read as absent.
 */
export function readParams(source: unknown, rules: ParamRules = {}): Record<string, string> {
  if (source === undefined || source === null) return {};
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw new OAuthError('invalid_request', 'The request parameters must be a form or a JSON object');
  }
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if ((rules.names && !rules.names.has(key)) || value === undefined || value === null) continue;
    if (Array.isArray(value)) throw repeated(key);
    if (typeof value !== 'string') throw new OAuthError('invalid_request', `Parameter ${key} must be a string`);
    if (rules.maxLength !== undefined && value.length > rules.maxLength) {
      throw new OAuthError('invalid_request', `Parameter ${key} is too long`);
    }
    params[key] = value;
  }
  return params;
}

export const repeated = (name: string) => new OAuthError('invalid_request', `Parameter ${name} must not be repeated`);
