import type { TriggerId } from './actions.js';

/** Records of Auth0 Actions as stored: secrets sealed (see domain/actions.ts), never in the clear. */

export interface ActionTriggerRef {
  id: TriggerId;
  version: string;
}

export interface ActionDependency {
  name: string;
  version: string;
  registry_url?: string;
}

export interface SealedSecret {
  name: string;
  /** Encrypter output; associated data binds it to the action and the name. */
  sealed: string;
  updated_at: string;
}

/** An action's draft, and which version of it is deployed. */
export interface ActionRecord {
  id: string;
  name: string;
  trigger: ActionTriggerRef;
  code: string;
  dependencies: ActionDependency[];
  runtime: string;
  secrets: SealedSecret[];
  /** False once the draft changes after a deploy (Auth0's `all_changes_deployed`). */
  allChangesDeployed: boolean;
  deployedVersionId: string | null;
  created_at: string;
  updated_at: string;
}

/** An immutable snapshot of a draft, numbered from 1 per action. */
export interface ActionVersionRecord {
  id: string;
  action_id: string;
  number: number;
  trigger: ActionTriggerRef;
  code: string;
  dependencies: ActionDependency[];
  runtime: string;
  secrets: SealedSecret[];
  created_at: string;
}

/** One place in a trigger's flow. */
export interface BindingRecord {
  id: string;
  trigger_id: TriggerId;
  action_id: string;
  display_name: string;
  created_at: string;
  updated_at: string;
}

/** A bound action's deployed version, as the runtime reads it. */
export interface DeployedFlowRow {
  actionId: string;
  name: string;
  versionId: string;
  code: string;
  runtime: string;
  secrets: SealedSecret[];
}

export interface ActionListFilter {
  triggerId?: TriggerId;
  /** Exact name, as Auth0's `actionName`. */
  name?: string;
  /** true: only actions with a deployed version; false: only those without. */
  deployed?: boolean;
}
