/**
 * Where the session (refresh token) is kept between runs. One store holds one value for one app;
 * the SDK writes a small JSON string. Adapters: the OS keychain (`keychainStore`, node adapter),
 * an encrypted file (`encryptedFileStore`), and this memory store.
 */
export interface TokenStore {
  /** The stored value, or null when nothing is stored. */
  load(): Promise<string | null>;
  save(value: string): Promise<void>;
  /** Removes the value; clearing an empty store is not an error. */
  clear(): Promise<void>;
  /**
   * Proves the store can keep a token here, without touching the stored value (a keychain: write,
   * read back and delete a probe item). Called before the browser opens; without it the SDK calls
   * load(). Rejects with the store's own error (KeychainUnavailable, StorageFailed).
   */
  check?(): Promise<void>;
}

/** Keeps the session for the life of the process only: nothing survives a restart. */
export function memoryStore(): TokenStore {
  let value: string | null = null;
  return {
    load: async () => value,
    save: async (next) => {
      value = next;
    },
    clear: async () => {
      value = null;
    },
  };
}
