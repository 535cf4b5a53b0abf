/**
 * Tenant log events as Auth0 records them (`GET /api/v2/logs`): Auth0's event type codes, and the
 * fields of its log objects. Where Auth0 has no code for something latchkey records, the code is
 * latchkey's own, in Auth0's newer snake_case style, and marked so here and in the README.
 */
export const LOG_EVENT_TYPES = {
  s: 'Success Login',
  ssa: 'Success Silent Auth',
  f: 'Failed Login',
  fp: 'Failed Login (Incorrect Password)',
  fu: 'Failed Login (Invalid Email/Username)',
  fsa: 'Failed Silent Auth',
  limit_wc: 'Blocked Account',
  limit_mu: 'Blocked IP Address',
  ss: 'Success Signup',
  fs: 'Failed Signup',
  scp: 'Success Change Password',
  seacft: 'Success Exchange',
  feacft: 'Failed Exchange',
  sertft: 'Success Exchange',
  fertft: 'Failed Exchange',
  seccft: 'Success Exchange',
  feccft: 'Failed Exchange',
  sepft: 'Success Exchange',
  fepft: 'Failed Exchange',
  sede: 'Success Exchange',
  fede: 'Failed Exchange',
  srrt: 'Success Revocation',
  slo: 'Success Logout',
  sapi: 'Success API Operation',
  fapi: 'Failed API Operation',
  sdu: 'Success User Deletion',
  fdeac: 'Failed Device Activation',
  fdecc: 'User Canceled Device Confirmation',
  actions_execution_failed: 'Actions Execution Failed',
  // latchkey's own: Auth0 logs no event for these.
  consent_given: 'Consent Given',
  device_confirmed: 'Device Confirmed',
  client_registered: 'Dynamic Client Registration',
} as const;

export type LogEventType = keyof typeof LOG_EVENT_TYPES;

/** What the domain says happened; request facts (ip, user agent, host) are added where it is emitted. */
export interface LogEventInput {
  type: LogEventType;
  description?: string;
  client_id?: string;
  client_name?: string;
  connection?: string;
  connection_id?: string;
  user_id?: string;
  user_name?: string;
  audience?: string;
  scope?: string;
  strategy?: string;
  strategy_type?: string;
  ip?: string;
  user_agent?: string;
  hostname?: string;
  /** Never secrets, passwords, tokens or codes: only what an operator may read. */
  details?: Record<string, unknown>;
}

/** An event as stored and returned, in Auth0's shape. */
export interface LogEvent extends Omit<LogEventInput, 'type'> {
  log_id: string;
  date: string;
  type: LogEventType;
}

/**
 * Events whose loss would hide an attack or an administrator's change (an account locked, a token
 * reused, a password changed, a Management API write): they get reserved buffer room. Not failures
 * anyone can send (a bad code, an unauthenticated Management API call), which would fill it.
 */
const CRITICAL_TYPES: ReadonlySet<LogEventType> = new Set<LogEventType>(['limit_wc', 'limit_mu', 'scp', 'sapi', 'sdu']);

export const isSecurityCritical = (event: LogEventInput): boolean =>
  CRITICAL_TYPES.has(event.type) || event.details?.reuse_detected === true;
