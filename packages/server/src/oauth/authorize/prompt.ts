import { AuthorizeError, type AuthorizeCheck } from './types.js';

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

/** prompt, max_age, login_hint and screen_hint: how the user is to be asked. */
export const checkPrompt: AuthorizeCheck = (params, state) => {
  const prompt = (params.prompt ?? '').split(' ').filter(Boolean);
  const unknown = prompt.find((p) => !PROMPTS.has(p));
  if (unknown) throw new AuthorizeError('invalid_request', `Unsupported prompt value: ${unknown}`);
  // OIDC Core §3.1.2.1: none cannot be combined with anything else.
  if (prompt.includes('none') && prompt.length > 1) throw new AuthorizeError('invalid_request', 'prompt=none cannot be combined with other values');
  state.request.prompt = prompt;
  if (params.max_age !== undefined) {
    if (!/^\d{1,9}$/.test(params.max_age)) throw new AuthorizeError('invalid_request', 'max_age must be a non-negative integer');
    state.request.maxAge = Number(params.max_age);
  }
  if (params.login_hint !== undefined) state.request.loginHint = params.login_hint.slice(0, 254);
  if (params.screen_hint !== undefined) state.request.screenHint = params.screen_hint;
};
