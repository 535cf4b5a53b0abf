import { spawn } from 'node:child_process';
import { KeychainUnavailable } from '../errors.js';
import type { TokenStore } from '../storage.js';
import { type KeychainStoreOptions, noSecretService } from './keyring.js';

export interface SecretToolStoreOptions extends KeychainStoreOptions {
  /** A locked keyring makes secret-tool wait for a password prompt; give up after this long. Default 30 s. */
  timeoutMs?: number;
}

/**
 * The Linux Secret Service through libsecret's `secret-tool` (Debian: libsecret-tools), for apps
 * that cannot ship a native module. The attributes (`service`, `username`) are the ones keyring-rs
 * uses, so this store and keychainStore() read the same item. The secret goes through stdin, never argv.
 */
export function secretToolStore(options: SecretToolStoreOptions, env: NodeJS.ProcessEnv = process.env): TokenStore {
  const attributes = ['service', options.service, 'username', options.account];
  const run = (args: string[], input?: string) => secretTool(args, input, env, options.timeoutMs ?? 30_000);
  return {
    async load() {
      const result = await run(['lookup', ...attributes]);
      if (result.code === 0) return result.stdout;
      // lookup exits 1 silently when nothing matches; anything on stderr is a real failure.
      if (result.stderr.trim() === '') return null;
      throw unavailable(result.stderr);
    },
    async save(value) {
      const result = await run(['store', `--label=${options.service} (${options.account})`, ...attributes], value);
      if (result.code !== 0) throw unavailable(result.stderr);
    },
    async clear() {
      const result = await run(['clear', ...attributes]);
      if (result.code !== 0 && result.stderr.trim() !== '') throw unavailable(result.stderr);
    },
    // Write, read back and delete a probe item beside the real one (which stays untouched).
    async check() {
      const probe = ['service', options.service, 'username', `${options.account}#probe`];
      const value = `probe-${Date.now()}`;
      const stored = await run(['store', `--label=${options.service} (probe)`, ...probe], value);
      if (stored.code !== 0) throw unavailable(stored.stderr);
      const read = await run(['lookup', ...probe]);
      await run(['clear', ...probe]);
      if (read.code !== 0 || read.stdout !== value) throw unavailable(read.stderr || 'the test item could not be read back');
    },
  };
}

function unavailable(stderr: string): KeychainUnavailable {
  return new KeychainUnavailable(
    `The Secret Service refused: ${stderr.trim() || 'secret-tool failed'}. Is a keyring daemon running and unlocked?`,
  );
}

function secretTool(
  args: string[],
  input: string | undefined,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Without a session bus secret-tool tries to autolaunch one through X11 and fails obscurely.
  if (!env.DBUS_SESSION_BUS_ADDRESS) return Promise.reject(noSecretService());
  return new Promise((resolve, reject) => {
    const child = spawn('secret-tool', args, { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        cause.code === 'ENOENT'
          ? new KeychainUnavailable('secret-tool is not installed (Debian/Ubuntu: apt install libsecret-tools).', { cause })
          : new KeychainUnavailable(`secret-tool failed: ${cause.message}`, { cause }),
      ),
    );
    child.once('close', (code, signal) => {
      if (signal)
        reject(new KeychainUnavailable(`secret-tool did not answer within ${timeoutMs} ms (locked keyring waiting for a prompt?).`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}
