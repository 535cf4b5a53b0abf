import { bounded } from './limits.js';
import { type AuthorizeCheck, AuthorizeError } from './types.js';

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
/** Auth0's Universal Login knows these two; anything else would only be stored, never used. */
const SCREEN_HINTS = new Set(['signup', 'login']);

/** prompt, max_age, login_hint and screen_hint: how the user is to be asked. */
export const checkPrompt: AuthorizeCheck = (params, state) => {
  // Deduplicated: `prompt=login login login …` is kept as one value, not as thousands.
  const prompt = [...new Set((params.prompt ?? '').split(' ').filter(Boolean))];
  const unknown = prompt.find((p) => !PROMPTS.has(p));
  if (unknown) throw new AuthorizeError('invalid_request', `Unsupported prompt value: ${unknown}`);
  // OIDC Core §3.1.2.1: none cannot be combined with anything else.
  if (prompt.includes('none') && prompt.length > 1)
    throw new AuthorizeError('invalid_request', 'prompt=none cannot be combined with other values');
  state.request.prompt = prompt;
  if (params.max_age !== undefined) {
    if (!/^\d{1,9}$/.test(params.max_age)) throw new AuthorizeError('invalid_request', 'max_age must be a non-negative integer');
    state.request.maxAge = Number(params.max_age);
  }
  const loginHint = bounded(params, 'login_hint');
  if (loginHint !== undefined) state.request.loginHint = loginHint;
  if (params.screen_hint !== undefined) {
    if (!SCREEN_HINTS.has(params.screen_hint)) {
      throw new AuthorizeError(
        'invalid_request',
        `Unsupported screen_hint value: ${params.screen_hint.slice(0, 32)} (use signup or login)`,
      );
    }
    state.request.screenHint = params.screen_hint;
  }
};
