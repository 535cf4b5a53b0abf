/**
 * Runs the Actions bound to a trigger, in flow order, in the QuickJS sandbox of the profile
 * scripts (connections/sandbox: warm workers, CPU/memory/wall-clock limits, fetch limits). Each
 * Action's `api` calls come back as commands (see vm-prelude.ts) that are checked and applied
 * here: custom claims (reserved names skipped as Auth0 does, total size bounded), scopes, deny,
 * metadata, cache. A denial stops the flow (later Actions do not run); an Action that fails or
 * runs out of a limit fails the flow with an ActionFailure, which the caller turns into the
 * sign-in's error, so a hostile Action only ever affects its own sign-in.
 */
import { resolveLimits, runInWorker, SandboxError, type SandboxOptions } from '../connections/sandbox/run.js';
import type { DeployedAction, TriggerId } from '../domain/actions.js';
import { redactTokenLike } from '../logging.js';

export type { DeployedAction, TriggerId } from '../domain/actions.js';

/** Where the flows come from and how the runs are limited and logged. */
export interface ActionsDeps {
  /** The deployed Actions bound to the trigger, in flow order. */
  flow(trigger: TriggerId): Promise<DeployedAction[]>;
  /** Sandbox limits (the profile scripts' defaults when absent). */
  sandbox?: SandboxOptions;
  now?: () => number;
}

export const HANDLERS: Record<TriggerId, string> = {
  'post-login': 'onExecutePostLogin',
  'credentials-exchange': 'onExecuteCredentialsExchange',
  'pre-user-registration': 'onExecutePreUserRegistration',
  'post-user-registration': 'onExecutePostUserRegistration',
};

/**
 * `api.redirect` (redirecting away and resuming with onContinuePostLogin) is not supported: the
 * Management API refuses to deploy code that matches this, and a call at run time fails the Action.
 */
export const REDIRECT_UNSUPPORTED = {
  pattern: /\bapi\s*\.\s*redirect\b|\bonContinuePostLogin\b/,
  message: 'latchkey does not support api.redirect or onContinuePostLogin (redirecting away during sign-in) in Actions',
};

/**
 * Claims an Action cannot set (Auth0's restricted list, plus `scope`, which only addScope and
 * removeScope change); as in Auth0 such a claim is left out of the token, the sign-in goes on.
 */
const RESTRICTED_CLAIMS = new Set(
  (
    'acr act active amr at_hash ath attest aud auth_time authorization_details azp c_hash client_id cnf cty dest ' +
    'entitlements events exp groups gty htm htu iat internalService iss jcard jku jti jwe jwk kid may_act mky nbf ' +
    'nonce object_id org_id org_name orig origid permissions roles rph s_hash scope sid sip_callid sip_cseq_num ' +
    'sip_date sip_from_tag sip_via_branch sub sub_jwk toe txn typ uuid vot vtm x5t#S256'
  ).split(' '),
);
/**
 * OpenID Connect's standard claims (Core §5.1): in the ID token they say what the user's profile
 * says, and Auth0 does not let an Action change them ("OpenID standard claims ... cannot be
 * customized or modified"); access tokens may carry them.
 */
const OIDC_STANDARD_CLAIMS = new Set(
  (
    'name given_name family_name middle_name nickname preferred_username profile picture website email email_verified ' +
    'gender birthdate zoneinfo locale phone_number phone_number_verified address updated_at'
  ).split(' '),
);
/** Namespaces Auth0 keeps for itself (with a port, a query or a fragment too). */
const RESTRICTED_NAMESPACE = /^https?:\/\/([^/?#]*\.)?(auth0\.com|webtask\.io|webtask\.run)\.?([/:?#]|$)/i;

/** Auth0's limit on the custom claims of one token. */
export const MAX_CUSTOM_CLAIMS_BYTES = 100 * 1024;
/** api.cache: entries per Action, key and value sizes, longest lifetime. */
const CACHE_MAX_ENTRIES = 20;
const CACHE_MAX_KEY_CHARS = 256;
const CACHE_MAX_VALUE_CHARS = 2048;
const CACHE_MAX_TTL_MS = 24 * 3600_000;
/** Actions whose cache is kept in memory at once (least recently used ones are dropped). */
const CACHE_MAX_ACTIONS = 500;
/** Commands one run may send back, and metadata it may set (each a JSON value, size bounded). */
const MAX_COMMANDS = 1000;
const MAX_METADATA_BYTES = 16 * 1024;

export type ClaimsTarget = 'idToken' | 'accessToken';

/** What the Actions of one flow asked for, applied by the caller. */
export interface FlowResult {
  idTokenClaims: Record<string, unknown>;
  accessTokenClaims: Record<string, unknown>;
  addScopes: string[];
  removeScopes: string[];
  appMetadata?: Record<string, unknown>;
  userMetadata?: Record<string, unknown>;
  denied?: { code: string; reason: string; userMessage?: string; action: string };
  logs: string[];
}

/** An Action failed (threw, timed out, ran out of memory, asked for something invalid). */
export class ActionFailure extends Error {
  override name = 'ActionFailure';
  constructor(
    readonly action: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export const emptyResult = (): FlowResult => ({ idTokenClaims: {}, accessTokenClaims: {}, addScopes: [], removeScopes: [], logs: [] });

interface CacheEntry {
  value: string;
  expires_at: number;
}
const caches = new Map<string, Map<string, CacheEntry>>();

function cacheOf(actionId: string, now: number): Record<string, CacheEntry> {
  const cache = caches.get(actionId);
  if (!cache) return {};
  caches.delete(actionId); // re-inserted: most recently used last
  caches.set(actionId, cache);
  const snapshot: Record<string, CacheEntry> = {};
  for (const [key, entry] of cache) {
    if (entry.expires_at <= now) cache.delete(key);
    else snapshot[key] = entry;
  }
  return snapshot;
}

function cacheWrite(actionId: string, now: number, key: unknown, value?: unknown, expiresAt?: unknown): void {
  if (typeof key !== 'string' || key.length > CACHE_MAX_KEY_CHARS) return;
  let cache = caches.get(actionId);
  if (value === undefined) {
    cache?.delete(key);
    return;
  }
  if (typeof value !== 'string' || value.length > CACHE_MAX_VALUE_CHARS) return;
  if (!cache) {
    if (caches.size >= CACHE_MAX_ACTIONS) caches.delete(caches.keys().next().value as string);
    cache = new Map();
    caches.set(actionId, cache);
  }
  const expires = Math.min(typeof expiresAt === 'number' && Number.isFinite(expiresAt) ? expiresAt : now, now + CACHE_MAX_TTL_MS);
  if (!cache.has(key) && cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(key, { value, expires_at: expires });
}

/** Whether an Action may set this claim (Auth0 drops the others without failing the sign-in). */
export function claimAllowed(name: string, target: ClaimsTarget): boolean {
  if (name === '' || name === '__proto__' || RESTRICTED_CLAIMS.has(name) || RESTRICTED_NAMESPACE.test(name)) return false;
  return target === 'accessToken' || !OIDC_STANDARD_CLAIMS.has(name);
}

interface RunOutput {
  commands: unknown[][];
  logs: string[];
}

/** One Action, one run: the commands it recorded, or an ActionFailure. */
async function runAction(
  action: Pick<DeployedAction, 'name' | 'code' | 'secrets'> & { id?: string; versionId?: string },
  trigger: TriggerId,
  event: Record<string, unknown>,
  deps: Pick<ActionsDeps, 'sandbox'>,
  now: number,
): Promise<RunOutput> {
  const secrets = Object.fromEntries(action.secrets.map((s) => [s.name, s.value]));
  const input = JSON.stringify({
    trigger,
    now,
    event: { ...event, secrets },
    cache: action.id ? cacheOf(action.id, now) : {},
  });
  const logs: string[] = [];
  const subject = `the Action ${JSON.stringify(action.name)}`;
  // Values of at least 8 characters, as redactTokenLike matches them (shorter ones would hit ordinary words).
  const secretValues = action.secrets.map((s) => s.value).filter((v) => v.length >= 8);
  let resultJson: string;
  try {
    resultJson = await runInWorker(
      {
        program: 'action',
        script: action.code,
        args: [HANDLERS[trigger], input],
        subject,
        secrets: secretValues,
        // Deployed versions stay compiled and warm; /test drafts get a fresh context each time.
        ...(action.id && action.versionId ? { warmKey: `${action.id} ${action.versionId}` } : {}),
        onLog: (line) => logs.push(line),
      },
      resolveLimits(deps.sandbox ?? {}),
      deps.sandbox ?? {},
    );
  } catch (error) {
    const reason = error instanceof SandboxError ? error.reason : 'script_error';
    // The message may carry the Action's own words (throw new Error(event.secrets.KEY)) and goes into
    // the app's error_description: secrets and token-like values are redacted, as in console lines.
    const raw = error instanceof Error ? error.message : String(error);
    const message = redactTokenLike(raw, { known: secretValues, maxLength: 1000 });
    throw Object.assign(new ActionFailure(action.name, reason, message), { logs });
  }
  let parsed: { commands?: unknown };
  try {
    parsed = JSON.parse(resultJson) as { commands?: unknown };
  } catch {
    throw new ActionFailure(action.name, 'script_error', `${subject} returned an unreadable result`);
  }
  const commands = Array.isArray(parsed.commands) ? (parsed.commands as unknown[][]) : [];
  if (commands.length > MAX_COMMANDS) throw new ActionFailure(action.name, 'limit', `${subject} made more than ${MAX_COMMANDS} api calls`);
  return { commands, logs };
}

function parseValue(json: unknown): unknown {
  if (typeof json !== 'string') return null;
  return JSON.parse(json, (key, value: unknown) => (key === '__proto__' ? undefined : value));
}

const tokenName = (target: ClaimsTarget) => (target === 'idToken' ? 'ID' : 'access');

function customClaimsBytes(result: FlowResult, target: ClaimsTarget): number {
  return Buffer.byteLength(JSON.stringify(target === 'idToken' ? result.idTokenClaims : result.accessTokenClaims));
}

/** Applies one Action's commands to the flow's result; returns whether it denied. */
function apply(
  result: FlowResult,
  action: { id?: string; name: string },
  commands: unknown[][],
  event: Record<string, unknown>,
  now: number,
): boolean {
  const subject = `the Action ${JSON.stringify(action.name)}`;
  for (const command of commands) {
    if (!Array.isArray(command)) continue;
    const [op, a, b, c] = command;
    switch (op) {
      case 'idToken.setCustomClaim':
      case 'accessToken.setCustomClaim': {
        const target: ClaimsTarget = op === 'idToken.setCustomClaim' ? 'idToken' : 'accessToken';
        if (typeof a !== 'string' || !claimAllowed(a, target)) break;
        (target === 'idToken' ? result.idTokenClaims : result.accessTokenClaims)[a] = parseValue(b);
        if (customClaimsBytes(result, target) > MAX_CUSTOM_CLAIMS_BYTES) {
          throw new ActionFailure(
            action.name,
            'limit',
            `${subject} set custom claims larger than ${MAX_CUSTOM_CLAIMS_BYTES / 1024} KB in the ${tokenName(target)} token`,
          );
        }
        break;
      }
      case 'accessToken.addScope':
      case 'accessToken.removeScope': {
        if (typeof a !== 'string' || a === '' || /\s/.test(a) || a.length > 280) break;
        const [to, from] =
          op === 'accessToken.addScope' ? [result.addScopes, result.removeScopes] : [result.removeScopes, result.addScopes];
        const index = from.indexOf(a);
        if (index >= 0) from.splice(index, 1);
        if (!to.includes(a) && to.length < 100) to.push(a);
        break;
      }
      case 'access.deny':
        result.denied = {
          code: typeof a === 'string' && a !== '' ? a.slice(0, 100) : 'access_denied',
          reason: typeof b === 'string' ? b.slice(0, 500) : '',
          ...(typeof c === 'string' ? { userMessage: c.slice(0, 500) } : {}),
          action: action.name,
        };
        break;
      case 'user.setAppMetadata':
      case 'user.setUserMetadata': {
        if (typeof a !== 'string' || a === '' || a === '__proto__') break;
        const key = op === 'user.setAppMetadata' ? 'appMetadata' : 'userMetadata';
        const metadata = (result[key] ??= {});
        metadata[a] = parseValue(b);
        if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
          throw new ActionFailure(action.name, 'limit', `${subject} set more than ${MAX_METADATA_BYTES / 1024} KB of metadata`);
        }
        // Later Actions of the flow see the change, as in Auth0.
        const user = event.user as Record<string, unknown> | undefined;
        if (user) {
          const field = key === 'appMetadata' ? 'app_metadata' : 'user_metadata';
          const current = { ...((user[field] as Record<string, unknown>) ?? {}) };
          if (metadata[a] === null) delete current[a];
          else current[a] = metadata[a];
          user[field] = current;
        }
        break;
      }
      case 'cache.set':
        if (action.id) cacheWrite(action.id, now, a, b, c);
        break;
      case 'cache.delete':
        if (action.id) cacheWrite(action.id, now, a);
        break;
    }
  }
  return result.denied !== undefined;
}

/**
 * Runs the trigger's flow. Returns what the Actions asked for (with `denied` set when one denied:
 * the caller ends the flow with that error); throws ActionFailure when one failed.
 */
export async function runFlow(deps: ActionsDeps, trigger: TriggerId, event: Record<string, unknown>): Promise<FlowResult> {
  const result = emptyResult();
  const actions = await deps.flow(trigger);
  if (actions.length === 0) return result;
  // Each Action sees its own copy; metadata set by one is visible to the next.
  const shared = structuredClone(event);
  // The wall clock is the whole flow's, as in Auth0 ("each execution of a flow must complete" in time):
  // per Action, fifty bound Actions waiting on a slow API would hold the sign-in fifty times as long.
  const { wallTimeMs } = resolveLimits(deps.sandbox ?? {});
  const deadline = performance.now() + wallTimeMs;
  for (const action of actions) {
    const now = (deps.now ?? Date.now)();
    const left = Math.ceil(deadline - performance.now());
    if (left <= 0) {
      throw new ActionFailure(action.name, 'timeout', `the ${trigger} flow did not finish within ${wallTimeMs} ms`);
    }
    const sandbox = { ...deps.sandbox, wallTimeMs: left };
    const { commands, logs } = await runAction(action, trigger, shared, { sandbox }, now);
    result.logs.push(...logs);
    if (apply(result, action, commands, shared, now)) break;
  }
  return result;
}

/** The Management API's /actions/{id}/test: one run of the code with the given event. */
export async function testAction(
  deps: Pick<ActionsDeps, 'sandbox'>,
  trigger: TriggerId,
  code: string,
  secrets: { name: string; value: string }[],
  event: Record<string, unknown>,
): Promise<{ payload: unknown; logs?: string[] }> {
  const now = Date.now();
  try {
    const { commands, logs } = await runAction({ name: 'test', code, secrets }, trigger, event, deps, now);
    const result = emptyResult();
    apply(result, { name: 'test' }, commands, structuredClone(event), now);
    // Auth0's test answers with the commands the Action issued; these are ours, in Auth0's words.
    const { logs: _logs, ...asked } = result;
    return { payload: { commands: commands.map(([op, ...args]) => ({ name: op, args })), result: asked }, logs };
  } catch (error) {
    if (!(error instanceof ActionFailure)) throw error;
    const logs = (error as ActionFailure & { logs?: string[] }).logs ?? [];
    return { payload: { error: { id: error.reason, msg: error.message } }, logs };
  }
}

/**
 * The deploy-time check the runtime adds to domain/actions.ts's syntax check (its CodeCheck): the
 * features latchkey cannot run. Returns the message to answer with, or undefined when it is fine.
 */
export function checkActionCode(code: string): string | undefined {
  if (REDIRECT_UNSUPPORTED.pattern.test(code)) return REDIRECT_UNSUPPORTED.message;
  return undefined;
}
