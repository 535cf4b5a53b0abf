import type { Encrypter } from '../crypto/encryption.js';
import type { Lookups } from '../storage/cache.js';
import type { Storage } from '../storage/types.js';

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
