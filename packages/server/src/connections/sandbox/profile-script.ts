/**
 * Runs a custom OAuth2 connection's `fetchUserProfile(accessToken, ctx, callback)` script, as
 * Auth0 does after the upstream code exchange, in QuickJS compiled to WebAssembly on a worker
 * thread (see profile-script-worker.ts for why a worker).
 *
 * What the script can reach: its arguments, the built-ins of a fresh QuickJS context (modern
 * ECMAScript, without typed arrays), `console`, and `request`, whose calls this thread performs with `fetch`
 * under a timeout, a size limit and an http(s)-only rule. Any http(s) host is reachable, internal
 * ones included, as in Auth0: the script is the tenant admin's. No Node API, module loader, file system or host object exists
 * in the VM; only strings travel between it and the host, and the profile comes back as JSON text
 * that is parsed and checked here.
 *
 * Limits and how they are enforced: see run.ts.
 */
import { redactTokenLike } from '../../logging.js';
import { resolveLimits, runInWorker, SandboxError, type SandboxOptions } from './run.js';
import { pool } from './worker-pool.js';

export type { ProfileScriptFailure } from './protocol.js';
export { DEFAULT_SANDBOX_LIMITS, type SandboxOptions } from './run.js';
export { SandboxError as ProfileScriptError };

const ProfileScriptError = SandboxError;

/** A profile is stored as user attributes: anything bigger is a script bug, not a profile. */
const MAX_PROFILE_CHARS = 1024 * 1024;

/**
 * Runs the script and returns the profile it called back with: a plain object whose `user_id`
 * is a non-empty string (a number is turned into one). Throws ProfileScriptError otherwise.
 */
export async function runFetchUserProfile(
  script: string,
  accessToken: string,
  context: Record<string, unknown>,
  options: SandboxOptions = {},
): Promise<Record<string, unknown>> {
  const limits = resolveLimits(options);
  const started = performance.now();
  try {
    const contextJson = JSON.stringify(context ?? {});
    const job = {
      program: 'profile' as const,
      script,
      args: [accessToken, contextJson] as [string, string],
      subject: 'the profile script',
      secrets: secretsOf(accessToken, contextJson),
    };
    const profileJson = await runInWorker(job, limits, options);
    return profileFrom(profileJson);
  } catch (error) {
    const message =
      error instanceof ProfileScriptError
        ? error.message
        : `the profile script could not run: ${error instanceof Error ? error.message : String(error)}`;
    // The message may carry the script's own words (callback(new Error(token))), and goes to the log
    // and into the app's error_description: the same redaction as its console output.
    const failure = new ProfileScriptError(
      error instanceof ProfileScriptError ? error.reason : 'script_error',
      redactTokenLike(message, { known: secretsOf(accessToken, JSON.stringify(context ?? {})), maxLength: 1000 }),
    );
    options.log?.('profile script failed', {
      reason: failure.reason,
      error: failure.message,
      durationMs: Math.round(performance.now() - started),
    });
    throw failure;
  }
}

/** Terminates idle sandbox workers, for a clean shutdown. */
export function closeProfileScriptSandbox(): void {
  pool.close();
}

/** The upstream's tokens the script was given, redacted from its console output whatever their shape. */
function secretsOf(accessToken: string, contextJson: string): string[] {
  const secrets = [accessToken];
  try {
    const context = JSON.parse(contextJson) as Record<string, unknown>;
    for (const [key, value] of Object.entries(context))
      if (/token|secret|code/i.test(key) && typeof value === 'string') secrets.push(value);
  } catch {
    // The context is latchkey's own JSON; nothing more to collect if it is not.
  }
  return secrets;
}

/** The checks Auth0 makes on what the script called back with, plus "plain JSON only". */
function profileFrom(json: string): Record<string, unknown> {
  if (json === '') throw new ProfileScriptError('invalid_profile', 'the profile script called back without a profile');
  if (json.length > MAX_PROFILE_CHARS) {
    throw new ProfileScriptError('invalid_profile', `the profile is larger than ${MAX_PROFILE_CHARS} characters of JSON`);
  }
  let profile: unknown;
  try {
    // A "__proto__" key would become the prototype of any object the profile is assigned into.
    profile = JSON.parse(json, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    throw new ProfileScriptError('invalid_profile', 'the profile is not valid JSON');
  }
  if (profile === null || typeof profile !== 'object' || Array.isArray(profile)) {
    throw new ProfileScriptError(
      'invalid_profile',
      `the profile must be an object, not ${profile === null ? 'null' : Array.isArray(profile) ? 'an array' : typeof profile}`,
    );
  }
  const record = profile as Record<string, unknown>;
  const userId = record.user_id;
  if (userId === undefined || userId === null || userId === '') {
    throw new ProfileScriptError('missing_user_id', 'the profile returned by the script has no user_id');
  }
  if (typeof userId === 'number' && Number.isFinite(userId)) record.user_id = String(userId);
  else if (typeof userId !== 'string') {
    throw new ProfileScriptError(
      'invalid_profile',
      `the profile's user_id must be a string or a number, not ${Array.isArray(userId) ? 'an array' : typeof userId}`,
    );
  }
  return record;
}
