import type { ChangeFeed, ChangeKind } from './types.js';

type Listener = (kind: ChangeKind | '*', key: string) => void;

/**
 * Delivers changes to this process's listeners at once, so a node reads its own writes. Backends
 * that share a database across processes extend it to hear the other nodes too.
 */
export class LocalChangeFeed implements ChangeFeed {
  private readonly listeners: Listener[] = [];

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }

  emit(kind: ChangeKind | '*', key: string): void {
    for (const listener of this.listeners) listener(kind, key);
  }

  async publish(kind: ChangeKind, key: string): Promise<void> {
    this.emit(kind, key);
  }
}
