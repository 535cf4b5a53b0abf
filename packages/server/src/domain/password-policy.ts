import { DomainError } from './errors.js';

/**
 * Auth0's database-connection password policies (connection option `passwordPolicy`), with
 * `password_complexity_options.min_length` raising the minimum length.
 */
const POLICIES = {
  none: { minLength: 1, kinds: 0, noTriples: false },
  low: { minLength: 6, kinds: 0, noTriples: false },
  fair: { minLength: 8, kinds: 3, noTriples: false, required: ['lower', 'upper', 'digit'] as const },
  good: { minLength: 8, kinds: 3, noTriples: false },
  excellent: { minLength: 10, kinds: 3, noTriples: true },
} as const;

type PolicyName = keyof typeof POLICIES;

/** argon2 hashes any length, but an unbounded input is a cheap way to burn CPU. */
export const MAX_PASSWORD_LENGTH = 128;

/** The connection's policy (Auth0's default is "good") and its effective minimum length. */
function resolvePolicy(options: Record<string, unknown>) {
  const name = (
    typeof options.passwordPolicy === 'string' && options.passwordPolicy in POLICIES ? options.passwordPolicy : 'good'
  ) as PolicyName;
  const policy = POLICIES[name];
  const complexity = options.password_complexity_options as { min_length?: unknown } | undefined;
  const minLength = Math.max(policy.minLength, typeof complexity?.min_length === 'number' ? complexity.min_length : 0);
  return { policy, minLength };
}

export function passwordProblem(password: string, options: Record<string, unknown>): string | undefined {
  const { policy, minLength } = resolvePolicy(options);
  if (password.length < minLength) return `Password is too short (at least ${minLength} characters)`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Password is too long (at most ${MAX_PASSWORD_LENGTH} characters)`;
  const present = {
    lower: /[a-z]/.test(password),
    upper: /[A-Z]/.test(password),
    digit: /[0-9]/.test(password),
    special: /[^A-Za-z0-9]/.test(password),
  };
  if ('required' in policy) {
    const missing = policy.required.filter((k) => !present[k]);
    if (missing.length > 0) return 'Password must contain lower case letters, upper case letters and numbers';
  } else if (Object.values(present).filter(Boolean).length < policy.kinds) {
    return 'Password must contain at least 3 of: lower case letters, upper case letters, numbers, special characters';
  }
  if (policy.noTriples && /(.)\1\1/.test(password)) return 'Password must not contain more than 2 identical characters in a row';
  return undefined;
}

export function assertPasswordAllowed(password: string, options: Record<string, unknown>): void {
  const problem = passwordProblem(password, options);
  if (problem) throw new DomainError('password_policy', 'password_strength_error', problem, { field: 'password' });
}

/** The policy in words, shown under the sign-up form's password field. */
export function passwordPolicyHint(options: Record<string, unknown>): string {
  const { policy, minLength } = resolvePolicy(options);
  const parts = [`At least ${minLength} characters`];
  if ('required' in policy) parts.push('with lower case and upper case letters and numbers');
  else if (policy.kinds > 0) parts.push('with 3 of: lower case, upper case, numbers, special characters');
  if (policy.noTriples) parts.push('and no character 3 times in a row');
  return `${parts.join(', ')}.`;
}
