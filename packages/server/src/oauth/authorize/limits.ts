import { AuthorizeError } from './types.js';

/**
 * The longest value latchkey keeps of each free-text /authorize parameter. A pending sign-in is
 * stored before anyone has signed in, so what an anonymous request can make the server keep is
 * bounded here (SDKs send 43-character state and nonce; Auth0 caps emails at 254 and connection
 * names at 128). Longer values are refused, never cut: a cut state or nonce would fail later, far
 * from the cause.
 */
export const MAX_LENGTH = {
  state: 1024,
  nonce: 512,
  login_hint: 254,
  connection: 128,
  audience: 600,
} as const;

/** The value of a bounded parameter, refused with a clear error when it is longer than allowed. */
export function bounded(params: Record<string, string | undefined>, name: keyof typeof MAX_LENGTH): string | undefined {
  const value = params[name];
  if (value !== undefined && value.length > MAX_LENGTH[name]) {
    throw new AuthorizeError('invalid_request', `Parameter ${name} is too long (at most ${MAX_LENGTH[name]} characters)`);
  }
  return value;
}
