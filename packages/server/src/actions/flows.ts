/**
 * The triggers as the sign-in, token and signup paths call them: builds Auth0's `event` for each,
 * runs the flow (runtime.ts) and turns a denial or a failure into the error of that path. Every
 * run that fails or denies leaves a log line (the debug log also gets the Actions' console output).
 */

import type { BackgroundTasks } from '../background.js';
import { DomainError } from '../domain/errors.js';
import type { Client, Grant, User } from '../domain/types.js';
import { updateUser } from '../domain/users.js';
import { recordEvent } from '../events/emit.js';
import { OAuthError } from '../oauth/errors.js';
import type { Lookups } from '../storage/cache.js';
import type { Storage } from '../storage/types.js';
import { ActionFailure, type ActionsDeps, type FlowResult, runFlow, type TriggerId } from './runtime.js';

/** What the tokens of one sign-in carry from its post-login flow (kept on the code until redeemed). */
export type ActionClaims = Pick<FlowResult, 'idTokenClaims' | 'accessTokenClaims' | 'addScopes' | 'removeScopes'>;

/** What the Actions paths need from the server (a GrantContext has it all). */
export interface ActionsContext {
  actions?: ActionsRuntime;
  storage: Storage;
  lookups: Lookups;
  now: () => number;
  /** Where post-user-registration runs, so a shutdown waits for it (run detached when absent). */
  background?: BackgroundTasks;
}

/** The flows' source, limits and log, built once per server (app.ts). */
export interface ActionsRuntime extends ActionsDeps {
  log?: (message: string, data: Record<string, unknown>, level?: 'warn' | 'debug') => void;
}

/** Facts about the HTTP request, for `event.request`. */
export interface ActionRequestInfo {
  ip?: string;
  hostname?: string;
  user_agent?: string;
  language?: string;
  method?: string;
  query?: Record<string, unknown>;
  body?: Record<string, unknown>;
}

/** `event.transaction.protocol`, as Auth0 names the ways post-login is reached. */
export type PostLoginProtocol =
  | 'oidc-basic-profile'
  | 'oidc-implicit-profile'
  | 'oidc-hybrid-profile'
  | 'oauth2-refresh-token'
  | 'oauth2-device-code'
  | 'oauth2-password';

export interface PostLoginInput {
  client: Client;
  user: User;
  grant: Grant;
  protocol: PostLoginProtocol;
  request?: ActionRequestInfo;
  /** The scopes the app asked for (the grant's when not given). */
  requestedScopes?: string[];
}

/** The parts of a user Actions see (no password hash, no upstream tokens). */
function eventUser(user: User): Record<string, unknown> {
  const { identities, ...rest } = user as User & Record<string, unknown>;
  return {
    ...rest,
    identities: identities.map(({ access_token: _a, refresh_token: _r, ...identity }) => identity),
  };
}

async function hasFlow(ctx: ActionsContext, trigger: TriggerId): Promise<ActionsRuntime | undefined> {
  const runtime = ctx.actions;
  if (!runtime) return undefined;
  return (await runtime.flow(trigger)).length > 0 ? runtime : undefined;
}

/** Runs the flow; a failure (not a denial) becomes an `access_denied` naming the Action, and a log line. */
async function run(runtime: ActionsRuntime, trigger: TriggerId, event: Record<string, unknown>): Promise<FlowResult> {
  const started = performance.now();
  try {
    const result = await runFlow(runtime, trigger, event);
    for (const line of result.logs) runtime.log?.('Action console', { trigger, line }, 'debug');
    if (result.denied) {
      runtime.log?.('Action denied', { trigger, action: result.denied.action, code: result.denied.code, reason: result.denied.reason });
    }
    return result;
  } catch (error) {
    if (!(error instanceof ActionFailure)) throw error;
    runtime.log?.('Action failed', {
      trigger,
      action: error.action,
      reason: error.reason,
      error: error.message,
      durationMs: Math.round(performance.now() - started),
    });
    recordEvent({ type: 'actions_execution_failed', description: error.message.slice(0, 500), details: { trigger, action: error.action } });
    throw new OAuthError('access_denied', error.message);
  }
}

/**
 * post-login. Returns what the tokens must carry, or undefined when no Action is bound. A denial
 * or a failure throws `access_denied` (the authorize path redirects with it, the token endpoint
 * answers with it). Metadata the Actions set is saved before the tokens are made.
 */
export async function runPostLogin(ctx: ActionsContext, input: PostLoginInput): Promise<ActionClaims | undefined> {
  const runtime = await hasFlow(ctx, 'post-login');
  if (!runtime) return undefined;
  const { client, user, grant } = input;
  const connectionName = user.identities[0]?.connection;
  const connection = connectionName ? await ctx.lookups.connection(connectionName) : undefined;
  const roles = await ctx.storage.roles.listRolesOf(user.user_id, { kind: 'offset', offset: 0, limit: 100, includeTotal: false });
  const event = {
    user: eventUser(user),
    client: { client_id: client.client_id, name: client.name, metadata: client.client_metadata ?? {} },
    connection: connection
      ? { id: connection.id, name: connection.name, strategy: connection.strategy, metadata: connection.metadata ?? {} }
      : undefined,
    request: { geoip: {}, ...input.request },
    transaction: {
      protocol: input.protocol,
      requested_scopes: input.requestedScopes ?? grant.scope,
      ...(grant.audience ? { requested_audience: grant.audience } : {}),
    },
    authorization: { roles: roles.items.map((role) => role.name) },
    stats: { logins_count: user.logins_count },
    authentication: { methods: [{ name: 'pwd', timestamp: grant.authTime }] },
    session: grant.sid ? { id: grant.sid } : undefined,
    tenant: { id: 'latchkey' },
  };
  const result = await run(runtime, 'post-login', event);
  if (result.denied) throw new OAuthError('access_denied', result.denied.reason);
  if (result.appMetadata || result.userMetadata) {
    await updateUser(
      ctx.storage,
      user.user_id,
      {
        ...(result.appMetadata ? { app_metadata: result.appMetadata } : {}),
        ...(result.userMetadata ? { user_metadata: result.userMetadata } : {}),
      },
      new Date(ctx.now()),
    );
  }
  const { idTokenClaims, accessTokenClaims, addScopes, removeScopes } = result;
  return { idTokenClaims, accessTokenClaims, addScopes, removeScopes };
}

/** credentials-exchange: the claims for a client_credentials token; a denial throws with its code. */
export async function runCredentialsExchange(
  ctx: ActionsContext,
  input: { client: Client; audience: string; scope: string[]; request?: ActionRequestInfo },
): Promise<Record<string, unknown> | undefined> {
  const runtime = await hasFlow(ctx, 'credentials-exchange');
  if (!runtime) return undefined;
  const event = {
    client: { client_id: input.client.client_id, name: input.client.name, metadata: input.client.client_metadata ?? {} },
    request: { geoip: {}, ...input.request },
    resource_server: { identifier: input.audience },
    transaction: { requested_scopes: input.scope },
    accessToken: { scope: input.scope, customClaims: {} },
    tenant: { id: 'latchkey' },
  };
  const result = await run(runtime, 'credentials-exchange', event);
  if (result.denied) {
    // Auth0 lets the Action pick among these codes; anything else is access_denied.
    const code = ['invalid_scope', 'invalid_request', 'server_error'].includes(result.denied.code) ? result.denied.code : 'access_denied';
    throw new OAuthError(code as 'access_denied', result.denied.reason);
  }
  return result.accessTokenClaims;
}

export interface RegistrationInput {
  user: Record<string, unknown>;
  connection: { id: string; name: string; strategy: string; metadata?: unknown };
  client?: Client;
  request?: ActionRequestInfo;
}

const registrationDenied = (userMessage: string) => new DomainError('invalid', 'extensibility_error', userMessage);

/**
 * pre-user-registration, before the user is stored: returns metadata to store with the user. A
 * denial or a failure throws DomainError `extensibility_error` with the message for the user, Auth0's answer to a denied sign-up.
 */
export async function runPreUserRegistration(
  ctx: ActionsContext,
  input: RegistrationInput,
): Promise<{ app_metadata?: Record<string, unknown>; user_metadata?: Record<string, unknown> }> {
  const runtime = await hasFlow(ctx, 'pre-user-registration');
  if (!runtime) return {};
  const event = registrationEvent(input);
  let result: FlowResult;
  try {
    result = await run(runtime, 'pre-user-registration', event);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    throw registrationDenied('The sign-up could not be completed.');
  }
  if (result.denied) throw registrationDenied(result.denied.userMessage ?? result.denied.reason);
  return {
    ...(result.appMetadata ? { app_metadata: result.appMetadata } : {}),
    ...(result.userMetadata ? { user_metadata: result.userMetadata } : {}),
  };
}

/** post-user-registration, after the user is stored: never fails the signup (errors are logged). */
export function runPostUserRegistration(ctx: ActionsContext, input: RegistrationInput): void {
  const task = async () => {
    const runtime = await hasFlow(ctx, 'post-user-registration');
    if (runtime) await run(runtime, 'post-user-registration', registrationEvent(input));
  };
  // run() has logged an Action's failure already; this catches the rest (the flow could not be read).
  const onError = (error: unknown) =>
    ctx.actions?.log?.('post-user-registration flow failed', { error: error instanceof Error ? error.message : String(error) });
  if (ctx.background) ctx.background.run(task, onError);
  else void task().catch(onError);
}

function registrationEvent(input: RegistrationInput): Record<string, unknown> {
  return {
    user: input.user,
    connection: { ...input.connection, metadata: input.connection.metadata ?? {} },
    ...(input.client
      ? { client: { client_id: input.client.client_id, name: input.client.name, metadata: input.client.client_metadata ?? {} } }
      : {}),
    request: { geoip: {}, ...input.request },
    transaction: { protocol: 'oidc-basic-profile' },
    tenant: { id: 'latchkey' },
  };
}
