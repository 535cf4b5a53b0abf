/**
 * Auth0 Management API resources latchkey does not have (rules, hooks, MFA, branding, action modules...).
 * Auth0's tools read all of them: auth0-deploy-cli's export reads every type, and its import reads
 * each type its files name. So each one answers reads as an Auth0 tenant that has none of it does
 * (an empty list, the default settings, or the 403 Auth0 gives where a plan lacks the feature and
 * the tools skip it), and settings latchkey does have under another name (brute-force protection is
 * the login throttle) answer from latchkey's real configuration.
 *
 * Writes are refused, by type, unless they change nothing (a tool re-applying the defaults it read):
 * importing content for a type latchkey lacks must fail loudly, never be dropped in silence.
 * The table is the one list of these types; the Management API scopes come from it too, so the
 * admin client holds them and a write reaches the refusal that names the type (a 403 for a missing
 * scope would read, to auth0-deploy-cli, as "feature deprecated" and be skipped without a word).
 */
import { DomainError } from './errors.js';

/** What latchkey knows that some of Auth0's settings mirror. */
export interface AbsentResourceFacts {
  /** Password failures per account before a lock (login throttle). */
  accountMaxFailures: number;
}

export type AbsentAnswer =
  /** A paginated list: bare `[]`, or `{start, limit, length, total, <key>: []}` with include_totals, `{<key>: []}` with from/take. */
  | { kind: 'list'; key: string }
  /** A fixed document (settings object, or a bare array Auth0 never pages). */
  | { kind: 'document'; value: (facts: AbsentResourceFacts) => unknown }
  /** Auth0's answer on a tenant whose plan lacks the feature; the tools skip the type on it. */
  | { kind: 'unavailable'; status: 403 | 404; errorCode: string; message: string };

export interface AbsentResource {
  /** The type's name in auth0-deploy-cli's files and `AUTH0_EXCLUDED`, used in refusals. */
  type: string;
  /** Path under /api/v2 (Fastify syntax; `:name` parameters allowed). */
  path: string;
  answer: AbsentAnswer;
  /** Scope prefix, e.g. `rules` for read:rules / create:rules / update:rules / delete:rules. */
  scope: string;
  /** Where the type is created when that is not under `path` (Auth0 reads one template, creates at the collection). */
  createdAt?: string;
  /** False for a part of a type latchkey has (a connection's directory provisioning), which must not be excluded whole. */
  excludable?: false;
}

const list = (key: string): AbsentAnswer => ({ kind: 'list', key });
const doc = (value: (facts: AbsentResourceFacts) => unknown): AbsentAnswer => ({ kind: 'document', value });
const fixed = (value: unknown): AbsentAnswer => doc(() => value);
/** A list type whose key in Auth0's paged answer is its scope's name. */
const listed = (type: string, path: string, scope: string): AbsentResource => ({ type, path, scope, answer: list(scope) });
const notOnPlan = (message: string): AbsentAnswer => ({ kind: 'unavailable', status: 403, errorCode: 'feature_not_enabled', message });

// Auth0's MFA factors, all off: latchkey has no multi-factor authentication.
const GUARDIAN_FACTORS = ['sms', 'push-notification', 'otp', 'email', 'duo', 'webauthn-roaming', 'webauthn-platform', 'recovery-code'].map(
  (name) => ({ name, enabled: false, trial_expired: false }),
);

export const ABSENT_RESOURCES: readonly AbsentResource[] = [
  { type: 'rules', path: '/rules', scope: 'rules', answer: list('rules') },
  { type: 'rulesConfigs', path: '/rules-configs', scope: 'rules_configs', answer: fixed([]) },
  { type: 'hooks', path: '/hooks', scope: 'hooks', answer: list('hooks') },
  { type: 'guardianFactors', path: '/guardian/factors', scope: 'guardian_factors', answer: fixed(GUARDIAN_FACTORS) },
  {
    type: 'guardianFactorProviders',
    path: '/guardian/factors/:factor/providers/:provider',
    scope: 'guardian_factors',
    answer: fixed({}),
  },
  {
    type: 'guardianFactorTemplates',
    path: '/guardian/factors/:factor/templates',
    scope: 'guardian_factors',
    answer: fixed({}),
  },
  { type: 'guardianPolicies', path: '/guardian/policies', scope: 'mfa_policies', answer: fixed([]) },
  {
    type: 'guardianPhoneFactorSelectedProvider',
    path: '/guardian/factors/phone/selected-provider',
    scope: 'guardian_factors',
    answer: fixed({ provider: 'auth0' }),
  },
  {
    type: 'guardianPhoneFactorMessageTypes',
    path: '/guardian/factors/phone/message-types',
    scope: 'guardian_factors',
    answer: fixed({ message_types: [] }),
  },
  { type: 'actionModules', path: '/actions/modules', scope: 'actions', answer: list('modules') },
  {
    type: 'attackProtection',
    path: '/attack-protection/breached-password-detection',
    scope: 'attack_protection',
    answer: fixed({ enabled: false, shields: [], admin_notification_frequency: [], method: 'standard' }),
  },
  {
    // latchkey's login throttle: a lock per account after this many failures, from any address.
    type: 'attackProtection',
    path: '/attack-protection/brute-force-protection',
    scope: 'attack_protection',
    answer: doc((facts) => ({
      enabled: true,
      shields: ['block'],
      mode: 'count_per_identifier',
      allowlist: [],
      max_attempts: facts.accountMaxFailures,
    })),
  },
  {
    type: 'attackProtection',
    path: '/attack-protection/suspicious-ip-throttling',
    scope: 'attack_protection',
    answer: fixed({ enabled: false, shields: [], allowlist: [] }),
  },
  {
    type: 'attackProtection',
    path: '/attack-protection/bot-detection',
    scope: 'attack_protection',
    answer: notOnPlan('Bot detection is not available on this tenant'),
  },
  {
    type: 'attackProtection',
    path: '/attack-protection/captcha',
    scope: 'attack_protection',
    answer: notOnPlan('Captcha is not available on this tenant'),
  },
  { type: 'riskAssessment', path: '/risk-assessments/settings', scope: 'risk_assessments', answer: fixed({ enabled: false }) },
  {
    type: 'riskAssessment',
    path: '/risk-assessments/settings/new-device',
    scope: 'risk_assessments',
    answer: fixed({ remember_for: 0 }),
  },
  {
    type: 'connections',
    path: '/connections-directory-provisionings',
    scope: 'directory_provisionings',
    answer: list('directory_provisionings'),
    excludable: false,
  },
  { type: 'customDomains', path: '/custom-domains', scope: 'custom_domains', answer: fixed([]) },
  { type: 'networkACLs', path: '/network-acls', scope: 'network_acls', answer: list('network_acls') },
  listed('userAttributeProfiles', '/user-attribute-profiles', 'user_attribute_profiles'),
  { type: 'connectionProfiles', path: '/connection-profiles', scope: 'connection_profiles', answer: list('connection_profiles') },
  { type: 'rateLimitPolicies', path: '/rate-limit-policies', scope: 'rate_limit_policies', answer: list('rate_limit_policies') },
  { type: 'branding', path: '/branding', scope: 'branding', answer: fixed({}) },
  {
    type: 'branding',
    path: '/branding/templates/universal-login',
    scope: 'branding',
    answer: { kind: 'unavailable', status: 404, errorCode: 'inexistent_template', message: 'Template does not exist' },
  },
  {
    type: 'themes',
    path: '/branding/themes/default',
    createdAt: '/branding/themes',
    scope: 'branding',
    answer: { kind: 'unavailable', status: 404, errorCode: 'theme_not_found', message: 'There is no default theme' },
  },
  { type: 'phoneProviders', path: '/branding/phone/providers', scope: 'phone_providers', answer: fixed({ providers: [] }) },
  { type: 'phoneTemplates', path: '/branding/phone/templates', scope: 'phone_templates', answer: fixed({ templates: [] }) },
  {
    type: 'prompts',
    path: '/prompts',
    scope: 'prompts',
    answer: fixed({ universal_login_experience: 'new', identifier_first: false, webauthn_platform_first_factor: false }),
  },
  { type: 'prompts', path: '/prompts/:prompt/custom-text/:language', scope: 'prompts', answer: fixed({}) },
  { type: 'prompts', path: '/prompts/:prompt/partials', scope: 'prompts', answer: fixed({}) },
  { type: 'prompts', path: '/prompts/rendering', scope: 'prompts', answer: list('configs') },
  { type: 'organizations', path: '/organizations', scope: 'organizations', answer: list('organizations') },
  { type: 'selfServiceProfiles', path: '/self-service-profiles', scope: 'self_service_profiles', answer: list('self_service_profiles') },
  { type: 'forms', path: '/forms', scope: 'forms', answer: list('forms') },
  { type: 'flows', path: '/flows', scope: 'flows', answer: list('flows') },
  { type: 'flowVaultConnections', path: '/flows/vault/connections', scope: 'flows_vault_connections', answer: list('connections') },
  listed('tokenExchangeProfiles', '/token-exchange-profiles', 'token_exchange_profiles'),
  { type: 'eventStreams', path: '/event-streams', scope: 'event_streams', answer: list('eventStreams') },
  { type: 'supplementalSignals', path: '/supplemental-signals', scope: 'attack_protection', answer: fixed({ akamai_enabled: false }) },
];

/** The Management API scopes these types need: read, and the writes that must reach their refusal. */
export const ABSENT_RESOURCE_SCOPES: readonly string[] = [
  ...new Set(ABSENT_RESOURCES.flatMap((r) => ['read', 'create', 'update', 'delete'].map((verb) => `${verb}:${r.scope}`))),
];

/**
 * A type latchkey lacks that auth0-deploy-cli writes into resources latchkey has: its `pages` go
 * into the tenant settings (password reset, error and MFA pages) and onto the global client (the
 * login page). Its handler runs before the first resource latchkey has is written, so refusing
 * it there refuses the import before anything is written.
 */
export const ABSENT_FIELDS = {
  tenant: { type: 'pages', fields: ['change_password', 'error_page', 'guardian_mfa_page'] },
  client: { type: 'pages', fields: ['custom_login_page', 'custom_login_page_on'] },
} as const;

/** auth0-deploy-cli's names of every type latchkey lacks, as `AUTH0_EXCLUDED` takes them. */
export const EXCLUDABLE_TYPES: readonly string[] = [
  ...new Set([
    ...ABSENT_RESOURCES.filter((r) => r.excludable !== false).map((r) => r.type),
    ...Object.values(ABSENT_FIELDS).map((f) => f.type),
  ]),
];

/**
 * The refusal of content for a type latchkey lacks. It names every such type for `AUTH0_EXCLUDED`,
 * so one change to the configuration leaves them all out (the server cannot see the types an import
 * writes later before it writes them).
 */
export function absentTypeRefusal(type: string): DomainError {
  return new DomainError(
    'invalid',
    'operation_not_supported',
    `latchkey has no ${type}: this import cannot be applied. Remove the ${type} from the files, or leave out ` +
      `every type latchkey lacks with AUTH0_EXCLUDED=${JSON.stringify(EXCLUDABLE_TYPES)} (auth0-deploy-cli).`,
  );
}

/** Nothing set: a page disabled and empty (`{enabled: false, html: ''}`), an empty login page. */
const isEmpty = (value: unknown): boolean =>
  value === undefined ||
  value === null ||
  value === false ||
  value === '' ||
  (typeof value === 'object' && !Array.isArray(value) && Object.values(value as object).every(isEmpty));

/**
 * The body without the absent type's fields when they set nothing (a tool writing back the empty
 * pages it read); refused, naming the type, when they hold content.
 */
export function withoutAbsentFields<T extends Record<string, unknown>>(resource: keyof typeof ABSENT_FIELDS, body: T): T {
  const { type, fields } = ABSENT_FIELDS[resource];
  const rest: Record<string, unknown> = { ...body };
  for (const field of fields) {
    if (!isEmpty(rest[field])) throw absentTypeRefusal(type);
    delete rest[field];
  }
  return rest as T;
}
