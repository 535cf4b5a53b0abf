import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export type StoreKind = 'keychain' | 'secret-tool' | 'file';

export interface CliConfig {
  command: string | undefined;
  /** `--help`: print USAGE and stop. */
  help: boolean;
  issuer?: string;
  domain?: string;
  clientId: string;
  audience?: string;
  apiUrl?: string;
  device: boolean;
  /** Print the sign-in URL instead of starting a browser (SSH sessions, tests). */
  openBrowser: boolean;
  store: StoreKind;
  storePath: string;
  passphrase?: string;
}

/** The name users type: `npx latchkey-cli` (package.json `bin`, linked by npm install). */
export const CLI_NAME = 'latchkey-cli';

/** The passphraseCipher() minimum, checked here so the user gets a sentence rather than a TypeError. */
const MIN_PASSPHRASE = 8;

export const USAGE = `Usage: ${CLI_NAME} <login|whoami|call-api|logout> [options]

  --issuer URL        issuer (LATCHKEY_CLI_ISSUER), e.g. https://id.example.com/
  --domain HOST       or an Auth0 domain (LATCHKEY_CLI_DOMAIN), e.g. tenant.eu.auth0.com
  --client-id ID      native application's client id (LATCHKEY_CLI_CLIENT_ID)
  --audience ID       API identifier (LATCHKEY_CLI_AUDIENCE)
  --api-url URL       where the example API runs (LATCHKEY_CLI_API_URL), e.g. http://localhost:3001
  --device            login with the device flow (no browser on this machine)
  --no-browser        print the sign-in URL instead of opening the browser
  --store KIND        keychain (default) | secret-tool | file (LATCHKEY_CLI_STORE)
  --store-path PATH   file store location (LATCHKEY_CLI_STORE_PATH)
  -h, --help          this help
  The file store encrypts with LATCHKEY_CLI_STORE_PASSPHRASE (at least ${MIN_PASSPHRASE} characters);
  it is never written in plain text.`;

/** Flags win over environment variables. The CLI reads only LATCHKEY_CLI_*: the server's LATCHKEY_* are not its business. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): CliConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        issuer: { type: 'string' },
        domain: { type: 'string' },
        'client-id': { type: 'string' },
        audience: { type: 'string' },
        'api-url': { type: 'string' },
        device: { type: 'boolean', default: false },
        'no-browser': { type: 'boolean', default: false },
        store: { type: 'string' },
        'store-path': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    // node:util's own messages are clear ("Unknown option '--x'"); its TypeError and stack are not.
    throw new UsageError(`${(error as Error).message.split('. ')[0]!.replace(/\.$/, '')}.`);
  }
  const { values, positionals } = parsed;
  const configHome = env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  const storePath = values['store-path'] ?? env.LATCHKEY_CLI_STORE_PATH ?? join(configHome, 'latchkey-cli', 'session.bin');
  if (values.help) return { command: undefined, help: true, clientId: '', device: false, openBrowser: false, store: 'keychain', storePath };
  const clientId = values['client-id'] ?? env.LATCHKEY_CLI_CLIENT_ID;
  if (!clientId) throw new UsageError('Missing --client-id (or LATCHKEY_CLI_CLIENT_ID).');
  const issuer = values.issuer ?? env.LATCHKEY_CLI_ISSUER;
  const domain = values.domain ?? env.LATCHKEY_CLI_DOMAIN;
  if (!issuer && !domain) throw new UsageError('Missing --issuer or --domain (LATCHKEY_CLI_ISSUER / LATCHKEY_CLI_DOMAIN).');
  const store = (values.store ?? env.LATCHKEY_CLI_STORE ?? 'keychain') as StoreKind;
  if (!['keychain', 'secret-tool', 'file'].includes(store))
    throw new UsageError(`Unknown store ${store}: use keychain, secret-tool or file.`);
  const passphrase = env.LATCHKEY_CLI_STORE_PASSPHRASE;
  if (store === 'file' && !passphrase)
    throw new UsageError('--store file needs a passphrase in LATCHKEY_CLI_STORE_PASSPHRASE: the token file is always encrypted.');
  if (store === 'file' && passphrase!.length < MIN_PASSPHRASE)
    throw new UsageError(`LATCHKEY_CLI_STORE_PASSPHRASE is too short: use at least ${MIN_PASSPHRASE} characters.`);
  return {
    command: positionals[0],
    help: false,
    ...(issuer ? { issuer } : {}),
    ...(domain ? { domain } : {}),
    clientId,
    ...optional('audience', values.audience ?? env.LATCHKEY_CLI_AUDIENCE),
    ...optional('apiUrl', values['api-url'] ?? env.LATCHKEY_CLI_API_URL),
    device: values.device ?? false,
    openBrowser: !values['no-browser'],
    store,
    storePath,
    ...optional('passphrase', passphrase),
  };
}

export class UsageError extends Error {}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value !== undefined && value !== '' ? { [key]: value } : {}) as { [P in K]?: string };
}
