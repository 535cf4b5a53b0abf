/**
 * `@latchkey/desktop/electron`: Electron's main process. Structural types only, so the SDK does not
 * depend on a particular Electron version; pass `safeStorage` and `app` from 'electron'.
 */
import type { DesktopAuth, LoginOptions } from '../client.js';
import { DesktopAuthError, InvalidArgument, KeychainUnavailable } from '../errors.js';
import type { AuthStatus } from '../events.js';
import { type BridgeFailure, type BridgeResult, AUTH_BRIDGE_CHANNELS as CHANNELS } from './electron-channels.js';
import type { Cipher } from './file-store.js';

export {
  AUTH_BRIDGE_CHANNELS,
  type AuthBridge,
  type BridgeFailure,
  type BridgeLoginOptions,
  type BridgeResult,
  type BridgeTokenOptions,
} from './electron-channels.js';

export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Uint8Array;
  decryptString(encrypted: Buffer): string;
  /** Linux only: which secret store backs the key. */
  getSelectedStorageBackend?(): string;
}

/**
 * Electron's safeStorage as the file store's cipher: the key lives in the OS keychain (Keychain,
 * DPAPI, Secret Service / KWallet). On Linux without a secret store Electron falls back to
 * `basic_text`, a key hard-coded in Chromium; that is plain text in disguise, so it is refused.
 */
export function safeStorageCipher(safeStorage: SafeStorageLike): Cipher {
  const check = () => {
    if (!safeStorage.isEncryptionAvailable())
      throw new KeychainUnavailable('Electron safeStorage is not available yet (call it after app "ready") or not on this system.');
    if (safeStorage.getSelectedStorageBackend?.() === 'basic_text') {
      throw new KeychainUnavailable(
        'Electron safeStorage has no OS secret store here (backend basic_text, a fixed key). Install and unlock GNOME Keyring or KWallet.',
      );
    }
  };
  return {
    async encrypt(plaintext) {
      check();
      return safeStorage.encryptString(new TextDecoder().decode(plaintext));
    },
    async decrypt(ciphertext) {
      check();
      return new TextEncoder().encode(safeStorage.decryptString(Buffer.from(ciphertext)));
    },
  };
}

export interface ElectronAppLike {
  on(event: 'open-url', listener: (event: { preventDefault(): void }, url: string) => void): unknown;
  on(event: 'second-instance', listener: (event: unknown, argv: string[]) => void): unknown;
}

/**
 * Routes custom-scheme callbacks to auth.handleRedirect(): macOS delivers them as `open-url`,
 * Windows and Linux start a second instance with the URL in argv (the app must hold the
 * single-instance lock, and check `process.argv` itself at start-up).
 */
export function forwardDeepLinks(app: ElectronAppLike, auth: DesktopAuth): void {
  app.on('open-url', (event, url) => {
    if (auth.handleRedirect(url)) event.preventDefault();
  });
  app.on('second-instance', (_event, argv) => {
    for (const arg of argv) if (auth.handleRedirect(arg)) break;
  });
}

/** The slice of Electron's WebContents the bridge uses. */
export interface WebContentsLike {
  send(channel: string, ...args: unknown[]): void;
  once(event: 'destroyed', listener: () => void): unknown;
  isDestroyed?(): boolean;
  mainFrame?: unknown;
}

/** The slice of Electron's IpcMainInvokeEvent the bridge uses. */
export interface IpcMainInvokeEventLike {
  sender: WebContentsLike;
  senderFrame?: unknown;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcMainInvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface AuthBridgeOptions {
  /** `shell.openExternal`: logout opens the provider's logout page in the system browser. Without it, none is opened. */
  openExternal?: (url: string) => unknown;
  /** Where the provider sends the browser after logout (an Allowed Logout URL). */
  logoutReturnTo?: string;
  /**
   * Which frames may call (Electron's security checklist: validate the sender of every IPC message).
   * Default: a window's top-level frame only, never an iframe inside it. Check `senderFrame.url` here
   * if the app's windows load remote content.
   */
  allowSender?: (event: IpcMainInvokeEventLike) => boolean;
}

const LOGIN_FIELDS = new Set(['audience', 'scope', 'prompt', 'loginHint', 'maxAge']);
const TOKEN_FIELDS = new Set(['audience', 'scope', 'forceRefresh']);
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
const MAX_STRING = 2048;

/**
 * The main process's half of the renderer bridge (`exposeAuthBridge` in the preload): five fixed
 * channels over ipcMain.handle. The renderer can sign in and out, read the profile and get access
 * tokens; refresh tokens, id_tokens and token responses never leave the main process. Arguments
 * are checked here, because a compromised renderer can send anything. Returns a function that
 * removes the handlers.
 */
export function registerAuthBridge(ipcMain: IpcMainLike, auth: DesktopAuth, options: AuthBridgeOptions = {}): () => void {
  const allowSender =
    options.allowSender ??
    ((event) => event.senderFrame === undefined || event.sender.mainFrame === undefined || event.senderFrame === event.sender.mainFrame);
  const subscribers = new Set<WebContentsLike>();
  const notify = (status: AuthStatus) => {
    for (const sender of subscribers) if (!sender.isDestroyed?.()) sender.send(CHANNELS.status, status);
  };
  const offStatus = auth.on('status', notify);

  const handle = (channel: string, run: (event: IpcMainInvokeEventLike, argument: unknown) => Promise<unknown> | unknown) => {
    ipcMain.handle(channel, async (event, ...args): Promise<BridgeResult<unknown>> => {
      if (!allowSender(event)) return failure({ code: 'sender_not_allowed', message: 'This frame may not use sign-in.' });
      try {
        if (args.length > 1) throw new InvalidArgument('Too many arguments.');
        return { ok: true, value: await run(event, args[0]) };
      } catch (error) {
        return failure(
          error instanceof DesktopAuthError
            ? { code: error.code, message: error.message }
            : { code: 'unexpected', message: 'The sign-in failed unexpectedly; see the main process log.' },
        );
      }
    });
  };

  handle(CHANNELS.login, async (_event, argument) => auth.login(loginOptions(argument)));
  handle(CHANNELS.logout, async (_event, argument) => {
    if (argument !== undefined) throw new InvalidArgument('logout() takes no arguments.');
    const { logoutUrl, revoked } = await auth.logout(options.logoutReturnTo ? { returnTo: options.logoutReturnTo } : {});
    if (logoutUrl && options.openExternal) await options.openExternal(logoutUrl);
    return { revoked };
  });
  handle(CHANNELS.getAccessToken, async (_event, argument) => {
    const fields = record(argument, TOKEN_FIELDS);
    return auth.getAccessToken({
      ...optionalString(fields, 'audience'),
      ...optionalString(fields, 'scope'),
      ...(fields.forceRefresh !== undefined ? { forceRefresh: boolean(fields.forceRefresh, 'forceRefresh') } : {}),
    });
  });
  handle(CHANNELS.getProfile, (_event, argument) => {
    if (argument !== undefined) throw new InvalidArgument('getProfile() takes no arguments.');
    return auth.getProfile() ?? null;
  });
  handle(CHANNELS.subscribe, (event) => {
    if (!subscribers.has(event.sender)) {
      subscribers.add(event.sender);
      event.sender.once('destroyed', () => subscribers.delete(event.sender));
    }
    event.sender.send(CHANNELS.status, auth.status);
    return null;
  });

  return () => {
    offStatus();
    subscribers.clear();
    for (const channel of [CHANNELS.login, CHANNELS.logout, CHANNELS.getAccessToken, CHANNELS.getProfile, CHANNELS.subscribe])
      ipcMain.removeHandler(channel);
  };
}

function failure(error: BridgeFailure): BridgeResult<never> {
  return { ok: false, error };
}

function loginOptions(argument: unknown): LoginOptions {
  const fields = record(argument, LOGIN_FIELDS);
  const options: LoginOptions = {
    ...optionalString(fields, 'audience'),
    ...optionalString(fields, 'scope'),
    ...optionalString(fields, 'loginHint'),
  };
  if (fields.prompt !== undefined) {
    if (typeof fields.prompt !== 'string' || !PROMPTS.has(fields.prompt))
      throw new InvalidArgument('prompt must be none, login, consent or select_account.');
    options.prompt = fields.prompt as NonNullable<LoginOptions['prompt']>;
  }
  if (fields.maxAge !== undefined) {
    if (typeof fields.maxAge !== 'number' || !Number.isSafeInteger(fields.maxAge) || fields.maxAge < 0)
      throw new InvalidArgument('maxAge must be a whole number of seconds.');
    options.maxAge = fields.maxAge;
  }
  return options;
}

/** A plain object with known keys only (undefined means no options). */
function record(argument: unknown, allowed: Set<string>): Record<string, unknown> {
  if (argument === undefined || argument === null) return {};
  if (typeof argument !== 'object' || Array.isArray(argument)) throw new InvalidArgument('Options must be an object.');
  const fields = argument as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (!allowed.has(key)) throw new InvalidArgument(`Unknown option ${key.slice(0, 40)}.`);
  return fields;
}

function optionalString<K extends string>(fields: Record<string, unknown>, key: K): { [P in K]?: string } {
  const value = fields[key];
  if (value === undefined) return {};
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_STRING)
    throw new InvalidArgument(`${key} must be a non-empty string of at most ${MAX_STRING} characters.`);
  return { [key]: value } as { [P in K]?: string };
}

function boolean(value: unknown, key: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgument(`${key} must be true or false.`);
  return value;
}
