import { randomUUID } from 'node:crypto';
import { compileFunction } from 'node:vm';
import type { Encrypter } from '../crypto/encryption.js';
import type { Lookups } from '../storage/cache.js';
import type { Storage } from '../storage/types.js';
import type {
  ActionDependency,
  ActionListFilter,
  ActionRecord,
  ActionTriggerRef,
  ActionVersionRecord,
  BindingRecord,
  SealedSecret,
} from './action-types.js';
import { conflict, DomainError, invalid, invalidField, notFound } from './errors.js';
import type { Page, PageRequest } from './types.js';

/**
 * Auth0 Actions: code the tenant deploys to run at sign-in, at client_credentials exchanges and
 * around sign-ups. The Management API keeps a draft per action; deploying snapshots it as an
 * immutable, numbered version, and a trigger's bindings name the actions it runs, in order. The
 * runtime (actions/runtime.ts) reads only what is deployed and bound, through `deployedFlow`.
 */

/** The triggers latchkey runs; Auth0 has more, which are refused as unsupported. */
export const TRIGGER_IDS = ['post-login', 'credentials-exchange', 'pre-user-registration', 'post-user-registration'] as const;
export type TriggerId = (typeof TRIGGER_IDS)[number];

export const isTriggerId = (value: string): value is TriggerId => (TRIGGER_IDS as readonly string[]).includes(value);

/** One bound, deployed action as the runtime runs it. */
export interface DeployedAction {
  id: string;
  name: string;
  /** The deployed version: changes with every deploy, so a runtime may key compiled code by it. */
  versionId: string;
  code: string;
  runtime: string;
  /** Decrypted, as the version was deployed with them (`event.secrets`). */
  secrets: Array<{ name: string; value: string }>;
}

/** What reading a flow needs; the ServerContext has all three. */
export interface FlowContext {
  storage: Pick<Storage, 'actions'>;
  /** Seals action secrets at rest (the upstream-secrets key). */
  secrets: Encrypter;
  lookups: Lookups;
}

/** Binds a sealed secret to its action and name, so a value cannot be moved to another action or name. */
export const secretAssociatedData = (actionId: string, name: string) => `action secret ${actionId} ${name}`;

/**
 * The actions bound to `trigger`, in flow order, as deployed (secrets decrypted). Cached in memory;
 * any deploy, binding change, rename or delete drops the trigger's entry on every node (change feed).
 */
export function deployedFlow(ctx: FlowContext, trigger: TriggerId): Promise<DeployedAction[]> {
  return ctx.lookups.actionFlow(trigger, async () => {
    const rows = await ctx.storage.actions.deployedFlow(trigger);
    return rows.map((row) => ({
      id: row.actionId,
      name: row.name,
      versionId: row.versionId,
      code: row.code,
      runtime: row.runtime,
      secrets: row.secrets.map((s) => ({ name: s.name, value: ctx.secrets.decrypt(s.sealed, secretAssociatedData(row.actionId, s.name)) })),
    }));
  });
}

// ---------------------------------------------------------------------------------------------
// Management: drafts, deploys, versions and bindings (Auth0's /api/v2/actions).

/** Bounds on what the Management API stores. */
export interface ActionLimits {
  /** Source size in bytes (Auth0: 100 KB). */
  maxCodeBytes: number;
  maxActions: number;
  maxSecretsPerAction: number;
  maxSecretValueBytes: number;
  maxBindingsPerTrigger: number;
  /** Versions kept per action: older ones go when a deploy adds one (never the deployed one). */
  maxVersionsPerAction: number;
}

export const DEFAULT_ACTION_LIMITS: ActionLimits = {
  maxCodeBytes: 100 * 1024,
  maxActions: 1000,
  maxSecretsPerAction: 50,
  maxSecretValueBytes: 4096,
  maxBindingsPerTrigger: 50,
  maxVersionsPerAction: 100,
};

/**
 * Deploy-time checks the runtime adds to the syntax check: it returns a problem to report (the
 * deploy fails with it) or undefined. Here so that domain/ does not depend on the runtime.
 */
export type CodeCheck = (code: string, trigger: TriggerId) => string | undefined;

export interface ActionsDeps {
  storage: Pick<Storage, 'actions' | 'transaction'>;
  secrets: Encrypter;
  limits?: Partial<ActionLimits>;
  checkCode?: CodeCheck;
}

/** Trigger versions latchkey runs (Auth0's `exports.onExecute...(event, api)` model), newest first. */
const TRIGGERS: Record<TriggerId, { versions: string[] }> = {
  'post-login': { versions: ['v3', 'v2'] },
  'credentials-exchange': { versions: ['v2'] },
  'pre-user-registration': { versions: ['v2'] },
  'post-user-registration': { versions: ['v2'] },
};

/** Runtimes Auth0 names; the code runs in latchkey's sandbox whichever is named, so the name is kept as given. */
export const ACTION_RUNTIMES = ['node22', 'node18-actions', 'node18', 'node16', 'node12'] as const;
export const DEFAULT_RUNTIME = 'node22';

/** Auth0's GET /actions/triggers: the triggers latchkey runs, each version it accepts. */
export function listTriggers() {
  return {
    triggers: TRIGGER_IDS.flatMap((id) =>
      TRIGGERS[id].versions.map((version, i) => ({
        id,
        version,
        status: i === 0 ? 'CURRENT' : 'DEPRECATED',
        runtimes: [...ACTION_RUNTIMES],
        default_runtime: DEFAULT_RUNTIME,
        // Versions of one trigger share the event and api latchkey gives them.
        compatible_triggers: TRIGGERS[id].versions.filter((v) => v !== version).map((v) => ({ id, version: v })),
        binding_policy: 'trigger-bound',
      })),
    ),
  };
}

export interface SecretInput {
  name: string;
  /** Absent: keep the stored value (auth0-deploy-cli sends names only, as it exports them). */
  value?: string;
}

export interface ActionInput {
  name: string;
  supported_triggers: Array<{ id: string; version?: string }>;
  code?: string;
  dependencies?: ActionDependency[];
  runtime?: string;
  secrets?: SecretInput[];
}

const noSuchAction = () => notFound('The action does not exist.', 'not_found');
const noSuchVersion = () => notFound('The version does not exist.', 'not_found');
const nameTaken = (name: string) => conflict(`An action named '${name}' already exists.`, 'already_exists');

function limitsOf(deps: Pick<ActionsDeps, 'limits'>): ActionLimits {
  return { ...DEFAULT_ACTION_LIMITS, ...deps.limits };
}

function triggerRef(triggers: ActionInput['supported_triggers']): ActionTriggerRef {
  if (triggers.length !== 1) {
    throw invalidField('supported_triggers', 'An action supports exactly one trigger (supported_triggers must have one item).');
  }
  const [{ id, version }] = triggers as [{ id: string; version?: string }];
  if (!isTriggerId(id)) {
    throw invalidField('supported_triggers', `Trigger '${id}' is not supported; supported triggers: ${TRIGGER_IDS.join(', ')}.`);
  }
  const versions = TRIGGERS[id].versions;
  if (version !== undefined && !versions.includes(version)) {
    throw invalidField(
      'supported_triggers',
      `Version '${version}' of trigger '${id}' is not supported; supported: ${versions.join(', ')}.`,
    );
  }
  return { id, version: version ?? versions[0]! };
}

function checkRuntime(runtime: string): string {
  if (!(ACTION_RUNTIMES as readonly string[]).includes(runtime)) {
    throw invalidField('runtime', `Runtime '${runtime}' is not supported; supported runtimes: ${ACTION_RUNTIMES.join(', ')}.`);
  }
  return runtime;
}

function checkCodeSize(code: string, limits: ActionLimits): string {
  if (Buffer.byteLength(code) > limits.maxCodeBytes) {
    throw invalidField('code', `The code is larger than ${limits.maxCodeBytes} bytes.`);
  }
  return code;
}

/** Seals the new secret set: a value given replaces, a name without one keeps its stored value ('' for a new name). */
function sealSecrets(
  deps: Pick<ActionsDeps, 'secrets'>,
  actionId: string,
  input: SecretInput[],
  stored: SealedSecret[],
  limits: ActionLimits,
  now: string,
): SealedSecret[] {
  if (input.length > limits.maxSecretsPerAction) {
    throw invalidField('secrets', `An action has at most ${limits.maxSecretsPerAction} secrets.`);
  }
  const seen = new Set<string>();
  return input.map(({ name, value }) => {
    if (seen.has(name)) throw invalidField('secrets', `Secret '${name}' is given twice.`);
    seen.add(name);
    const previous = stored.find((s) => s.name === name);
    if (value === undefined && previous) return previous;
    const clear = value ?? '';
    if (Buffer.byteLength(clear) > limits.maxSecretValueBytes) {
      throw invalidField('secrets', `The value of secret '${name}' is larger than ${limits.maxSecretValueBytes} bytes.`);
    }
    return { name, sealed: deps.secrets.encrypt(clear, secretAssociatedData(actionId, name)), updated_at: now };
  });
}

// --- What the Management API answers. Secret values never leave: names and dates only.

const presentSecrets = (secrets: SealedSecret[]) => secrets.map(({ name, updated_at }) => ({ name, updated_at }));

function presentActionBase(action: ActionRecord) {
  return {
    id: action.id,
    name: action.name,
    supported_triggers: [{ ...action.trigger }],
    all_changes_deployed: action.allChangesDeployed,
    created_at: action.created_at,
    updated_at: action.updated_at,
  };
}

export function presentVersion(version: ActionVersionRecord, action: ActionRecord | undefined, options: { withAction?: boolean } = {}) {
  return {
    id: version.id,
    action_id: version.action_id,
    code: version.code,
    dependencies: version.dependencies,
    deployed: action?.deployedVersionId === version.id,
    runtime: version.runtime,
    secrets: presentSecrets(version.secrets),
    status: 'built',
    number: version.number,
    errors: [],
    ...(options.withAction !== false && action ? { action: presentActionBase(action) } : {}),
    built_at: version.created_at,
    created_at: version.created_at,
    updated_at: version.created_at,
    supported_triggers: [{ ...version.trigger }],
  };
}

export type PresentedAction = ReturnType<typeof presentActionBase> & Record<string, unknown>;

async function presentAction(deps: Pick<ActionsDeps, 'storage'>, action: ActionRecord): Promise<PresentedAction> {
  const deployed = action.deployedVersionId ? await deps.storage.actions.getVersion(action.id, action.deployedVersionId) : undefined;
  return {
    ...presentActionBase(action),
    code: action.code,
    dependencies: action.dependencies,
    runtime: action.runtime,
    secrets: presentSecrets(action.secrets),
    ...(deployed ? { deployed_version: presentVersion(deployed, action, { withAction: false }) } : {}),
    status: 'built',
    built_at: action.updated_at,
  };
}

// --- Operations.

export async function createAction(deps: ActionsDeps, input: ActionInput & { deploy?: boolean }, now: Date): Promise<PresentedAction> {
  const limits = limitsOf(deps);
  const at = now.toISOString();
  const id = randomUUID();
  const action: ActionRecord = {
    id,
    name: input.name,
    trigger: triggerRef(input.supported_triggers),
    code: checkCodeSize(input.code ?? '', limits),
    dependencies: input.dependencies ?? [],
    runtime: checkRuntime(input.runtime ?? DEFAULT_RUNTIME),
    secrets: sealSecrets(deps, id, input.secrets ?? [], [], limits, at),
    allChangesDeployed: false,
    deployedVersionId: null,
    created_at: at,
    updated_at: at,
  };
  // Auth0's `deploy: true` deploys at once: refuse before storing anything rather than leave a half-made action.
  if (input.deploy) assertDeployable(action, deps.checkCode);
  if ((await deps.storage.actions.count()) >= limits.maxActions) {
    throw new DomainError('limit', 'too_many_actions', `The tenant has the maximum of ${limits.maxActions} actions.`);
  }
  if (!(await deps.storage.actions.insert(action))) throw nameTaken(action.name);
  if (input.deploy) {
    await deployAction(deps, id, now);
    return getAction(deps, id);
  }
  return presentAction(deps, action);
}

async function actionRecord(deps: Pick<ActionsDeps, 'storage'>, id: string): Promise<ActionRecord> {
  const action = await deps.storage.actions.get(id);
  if (!action) throw noSuchAction();
  return action;
}

export async function getAction(deps: Pick<ActionsDeps, 'storage'>, id: string): Promise<PresentedAction> {
  return presentAction(deps, await actionRecord(deps, id));
}

export async function listActions(
  deps: Pick<ActionsDeps, 'storage'>,
  filter: ActionListFilter & { installed?: boolean },
  page: PageRequest & { kind: 'offset' },
): Promise<Page<PresentedAction>> {
  // Marketplace integrations are not offered: no action is installed.
  if (filter.installed === true) return { items: [], total: 0 };
  const { installed: _installed, ...stored } = filter;
  const found = await deps.storage.actions.list(stored, page);
  return { ...found, items: await Promise.all(found.items.map((a) => presentAction(deps, a))) };
}

export async function updateAction(deps: ActionsDeps, id: string, patch: Partial<ActionInput>, now: Date): Promise<PresentedAction> {
  const limits = limitsOf(deps);
  const at = now.toISOString();
  // Read and written under the action's lock: a deploy in between would otherwise be undone (the draft
  // written back with the deployed version it was read with).
  const next = await deps.storage.transaction(async (tx) => {
    const current = await tx.actions.lock(id);
    if (!current) throw noSuchAction();
    const next = patchedDraft(deps, current, patch, limits, at);
    if (next.trigger.id !== current.trigger.id && (await tx.actions.countBindingsOf(id)) > 0) {
      throw conflict(`The action is bound to '${current.trigger.id}': unbind it before changing its trigger.`, 'failed_precondition');
    }
    const updated = await tx.actions.update(next);
    if (updated === 'conflict') throw nameTaken(next.name);
    if (!updated) throw noSuchAction();
    return next;
  });
  return presentAction(deps, next);
}

function patchedDraft(
  deps: Pick<ActionsDeps, 'secrets'>,
  current: ActionRecord,
  patch: Partial<ActionInput>,
  limits: ActionLimits,
  at: string,
): ActionRecord {
  const id = current.id;
  const trigger = patch.supported_triggers ? triggerRef(patch.supported_triggers) : current.trigger;
  const next: ActionRecord = {
    ...current,
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    trigger,
    ...(patch.code !== undefined ? { code: checkCodeSize(patch.code, limits) } : {}),
    ...(patch.dependencies !== undefined ? { dependencies: patch.dependencies } : {}),
    ...(patch.runtime !== undefined ? { runtime: checkRuntime(patch.runtime) } : {}),
    ...(patch.secrets !== undefined ? { secrets: sealSecrets(deps, id, patch.secrets, current.secrets, limits, at) } : {}),
    updated_at: at,
  };
  // A rename alone changes no version; anything the code sees does.
  const draftChanged =
    patch.code !== undefined ||
    patch.dependencies !== undefined ||
    patch.runtime !== undefined ||
    patch.secrets !== undefined ||
    patch.supported_triggers !== undefined;
  if (draftChanged) next.allChangesDeployed = false;
  return next;
}

/** Auth0 refuses to delete a bound action unless `force`, which unbinds it everywhere in the same transaction. */
export async function deleteAction(deps: Pick<ActionsDeps, 'storage'>, id: string, force: boolean): Promise<void> {
  await deps.storage.transaction(async (tx) => {
    // Locked: a flow replacement binding it meanwhile waits, then finds it gone (no binding left dangling).
    if (!(await tx.actions.lock(id))) throw noSuchAction();
    if ((await tx.actions.countBindingsOf(id)) > 0) {
      if (!force) {
        throw conflict('The action is bound to a trigger: remove its bindings first, or delete with force=true.', 'failed_precondition');
      }
      await tx.actions.removeBindingsOf(id);
    }
    await tx.actions.delete(id);
  });
}

/**
 * Why the code cannot be deployed, if it cannot: it must compile, must not need npm packages (the
 * sandbox loads none), and must pass the runtime's own checks. Compiling never runs the code.
 */
export function deployProblems(action: Pick<ActionRecord, 'code' | 'dependencies' | 'trigger'>, checkCode?: CodeCheck): string[] {
  const problems: string[] = [];
  if (action.dependencies.length > 0) {
    const names = action.dependencies.map((d) => (d.version ? `${d.name}@${d.version}` : d.name)).join(', ');
    problems.push(`npm dependencies are not supported (the sandbox cannot load packages): ${names}. Remove them from the action.`);
  }
  try {
    // The body of a CommonJS module, as Auth0 runs it: compiled as a function, never called.
    compileFunction(action.code, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: 'action.js' });
  } catch (err) {
    problems.push(`The code does not compile: ${(err as Error).message}`);
  }
  if (problems.length === 0 && checkCode) {
    const problem = checkCode(action.code, action.trigger.id);
    if (problem) problems.push(problem);
  }
  return problems;
}

function assertDeployable(action: ActionRecord, checkCode?: CodeCheck): void {
  const problems = deployProblems(action, checkCode);
  if (problems.length > 0) throw invalid(`The action '${action.name}' cannot be deployed: ${problems.join(' ')}`, 'invalid_argument');
}

/** Adds a version numbered after the last, retrying when a concurrent deploy took the number. */
async function addVersion(tx: Pick<Storage, 'actions'>, version: Omit<ActionVersionRecord, 'number'>): Promise<ActionVersionRecord> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const added = await tx.actions.insertVersion({ ...version, id: attempt === 0 ? version.id : randomUUID() });
    if (added) return added;
  }
  throw conflict('Another deploy of this action is in progress; try again.', 'conflict');
}

/**
 * Snapshots the draft as a new version and makes it the deployed one: from then on, where the action
 * is bound, sign-ins run it (every node's flow cache drops the trigger).
 */
export async function deployAction(deps: ActionsDeps, id: string, now: Date) {
  const limits = limitsOf(deps);
  const at = now.toISOString();
  const { version, action } = await deps.storage.transaction(async (tx) => {
    // Held until the transaction ends: parallel deploys of the action take their numbers in turn, and
    // the draft checked is the draft snapshotted (a PATCH cannot slip in between).
    const current = await tx.actions.lock(id);
    if (!current) throw noSuchAction();
    assertDeployable(current, deps.checkCode);
    const version = await addVersion(tx, {
      id: randomUUID(),
      action_id: id,
      trigger: current.trigger,
      code: current.code,
      dependencies: current.dependencies,
      runtime: current.runtime,
      secrets: current.secrets,
      created_at: at,
    });
    const action: ActionRecord = { ...current, deployedVersionId: version.id, allChangesDeployed: true };
    await tx.actions.update(action);
    await tx.actions.pruneVersions(id, version.number - limits.maxVersionsPerAction);
    return { version, action };
  });
  return presentVersion(version, action);
}

export async function listVersions(deps: Pick<ActionsDeps, 'storage'>, id: string, page: PageRequest & { kind: 'offset' }) {
  const action = await actionRecord(deps, id);
  const found = await deps.storage.actions.listVersions(id, page);
  return { ...found, items: found.items.map((v) => presentVersion(v, action)) };
}

export async function getVersion(deps: Pick<ActionsDeps, 'storage'>, id: string, versionId: string) {
  const action = await actionRecord(deps, id);
  const version = await deps.storage.actions.getVersion(id, versionId);
  if (!version) throw noSuchVersion();
  return presentVersion(version, action);
}

/**
 * Rolls back as Auth0 does: a new version, a copy of the old one, is created and deployed. With
 * `updateDraft`, the draft becomes that code too.
 */
export async function deployVersion(deps: ActionsDeps, id: string, versionId: string, updateDraft: boolean, now: Date) {
  const limits = limitsOf(deps);
  const at = now.toISOString();
  const named = await actionRecord(deps, id);
  const old = await deps.storage.actions.getVersion(id, versionId);
  if (!old) throw noSuchVersion();
  // Checked again: what may be deployed can have narrowed since that version was.
  assertDeployable({ ...named, code: old.code, dependencies: old.dependencies, trigger: old.trigger }, deps.checkCode);
  const { version, action } = await deps.storage.transaction(async (tx) => {
    // Held until the transaction ends: parallel deploys of the action take their numbers in turn.
    const current = await tx.actions.lock(id);
    if (!current) throw noSuchAction();
    const { number: _number, ...copy } = old;
    const version = await addVersion(tx, { ...copy, id: randomUUID(), created_at: at });
    const draft = updateDraft
      ? {
          trigger: old.trigger,
          code: old.code,
          dependencies: old.dependencies,
          runtime: old.runtime,
          secrets: old.secrets,
          updated_at: at,
        }
      : {};
    const action: ActionRecord = { ...current, ...draft, deployedVersionId: version.id };
    action.allChangesDeployed = draftEquals(action, version);
    await tx.actions.update(action);
    await tx.actions.pruneVersions(id, version.number - limits.maxVersionsPerAction);
    return { version, action };
  });
  return presentVersion(version, action);
}

function draftEquals(action: ActionRecord, version: ActionVersionRecord): boolean {
  return (
    action.code === version.code &&
    action.runtime === version.runtime &&
    action.trigger.id === version.trigger.id &&
    action.trigger.version === version.trigger.version &&
    JSON.stringify(action.dependencies) === JSON.stringify(version.dependencies) &&
    JSON.stringify(action.secrets) === JSON.stringify(version.secrets)
  );
}

// --- Bindings.

export interface BindingInput {
  ref: { type: 'action_id' | 'action_name' | 'binding_id'; value: string };
  display_name?: string;
}

async function presentBindings(deps: Pick<ActionsDeps, 'storage'>, bindings: BindingRecord[]) {
  const actions = new Map<string, PresentedAction>();
  const out = [];
  for (const binding of bindings) {
    let action = actions.get(binding.action_id);
    if (!action) {
      const record = await deps.storage.actions.get(binding.action_id);
      if (!record) continue; // deleted in between: bindings go with their action
      action = await presentAction(deps, record);
      actions.set(binding.action_id, action);
    }
    out.push({ id: binding.id, trigger_id: binding.trigger_id, display_name: binding.display_name, action, ...dates(binding) });
  }
  return out;
}

const dates = (b: BindingRecord) => ({ created_at: b.created_at, updated_at: b.updated_at });

/**
 * Auth0's other triggers, which latchkey does not run. Their flows are empty: listing them answers
 * none and emptying them is accepted, so that exports from Auth0 (auth0-deploy-cli writes every
 * trigger, empty ones too) import unchanged; binding an action to one is refused.
 */
const OTHER_AUTH0_TRIGGERS = new Set([
  'post-change-password',
  'send-phone-message',
  'custom-phone-provider',
  'custom-email-provider',
  'password-reset-post-challenge',
  'custom-token-exchange',
  'event-stream',
  'password-hash-migration',
  'login-post-identifier',
  'signup-post-identifier',
  'post-credential-validation',
]);

function triggerParam(trigger: string): TriggerId | 'other' {
  if (isTriggerId(trigger)) return trigger;
  if (OTHER_AUTH0_TRIGGERS.has(trigger)) return 'other';
  throw notFound(`Trigger '${trigger}' does not exist.`, 'not_found');
}

export async function listBindings(deps: Pick<ActionsDeps, 'storage'>, trigger: string, page: PageRequest & { kind: 'offset' }) {
  const triggerId = triggerParam(trigger);
  if (triggerId === 'other') return { items: [], total: 0 };
  const found = await deps.storage.actions.listBindings(triggerId, page);
  return { ...found, items: await presentBindings(deps, found.items) };
}

/**
 * Replaces the trigger's flow, in the order given. Only deployed actions of that trigger may be bound;
 * a binding that names an existing one (`binding_id`, or the same action) keeps its id and dates.
 */
export async function updateBindings(deps: ActionsDeps, trigger: string, input: BindingInput[], now: Date) {
  const limits = limitsOf(deps);
  const triggerId = triggerParam(trigger);
  if (triggerId === 'other') {
    if (input.length === 0) return { bindings: [] };
    throw invalidField('bindings', `Trigger '${trigger}' is not supported; supported triggers: ${TRIGGER_IDS.join(', ')}.`);
  }
  if (input.length > limits.maxBindingsPerTrigger) {
    throw invalidField('bindings', `A trigger has at most ${limits.maxBindingsPerTrigger} bindings.`);
  }
  const at = now.toISOString();
  const bindings = await deps.storage.transaction(async (tx) => {
    await tx.actions.lockFlow(triggerId);
    const existing = (await tx.actions.listBindings(triggerId, { kind: 'offset', offset: 0, limit: 10_000, includeTotal: false })).items;
    const bound: BindingRecord[] = [];
    for (const [i, { ref, display_name }] of input.entries()) {
      let action: ActionRecord | undefined;
      let previous: BindingRecord | undefined;
      if (ref.type === 'binding_id') {
        previous = existing.find((b) => b.id === ref.value);
        if (!previous) throw invalidField(`bindings[${i}].ref`, `No binding '${ref.value}' on trigger '${triggerId}'.`);
        action = await tx.actions.lock(previous.action_id);
      } else {
        const id = ref.type === 'action_id' ? ref.value : (await tx.actions.getByName(ref.value))?.id;
        // Locked until the flow is written: a delete of the action waits, and is then seen.
        action = id === undefined ? undefined : await tx.actions.lock(id);
        previous = action && existing.find((b) => b.action_id === action!.id && !bound.some((x) => x.id === b.id));
      }
      if (!action) throw invalidField(`bindings[${i}].ref`, `No action with ${ref.type === 'action_name' ? 'name' : 'id'} '${ref.value}'.`);
      if (action.trigger.id !== triggerId) {
        throw invalidField(`bindings[${i}].ref`, `The action '${action.name}' supports '${action.trigger.id}', not '${triggerId}'.`);
      }
      if (!action.deployedVersionId) {
        throw invalidField(`bindings[${i}].ref`, `The action '${action.name}' has not been deployed: deploy it before binding it.`);
      }
      if (bound.some((b) => b.action_id === action!.id)) {
        throw invalidField(`bindings[${i}].ref`, `The action '${action.name}' is bound twice.`);
      }
      const name = display_name ?? previous?.display_name ?? action.name;
      bound.push({
        id: previous?.id ?? randomUUID(),
        trigger_id: triggerId,
        action_id: action.id,
        display_name: name,
        created_at: previous?.created_at ?? at,
        updated_at: previous && previous.display_name === name ? previous.updated_at : at,
      });
    }
    await tx.actions.replaceBindings(triggerId, bound);
    return bound;
  });
  return { bindings: await presentBindings(deps, bindings) };
}

/** The draft as `testAction` runs it: code and decrypted secrets, after the deploy checks. */
export async function draftForTest(deps: ActionsDeps, id: string) {
  const action = await actionRecord(deps, id);
  assertDeployable(action, deps.checkCode);
  return {
    trigger: action.trigger.id,
    code: action.code,
    secrets: action.secrets.map((s) => ({ name: s.name, value: deps.secrets.decrypt(s.sealed, secretAssociatedData(action.id, s.name)) })),
  };
}
