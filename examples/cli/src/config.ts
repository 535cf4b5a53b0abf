import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export type StoreKind = 'keychain' | 'secret-tool' | 'file';

export interface CliConfig {
  command: string | undefined;
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

export const USAGE = `Usage: latchkey-cli <login|whoami|call-api|logout> [options]

  --issuer URL        issuer (LATCHKEY_ISSUER), e.g. https://id.example.com/
  --domain HOST       or an Auth0 domain (AUTH0_DOMAIN), e.g. tenant.eu.auth0.com
  --client-id ID      native application's client id (CLIENT_ID)
  --audience ID       API identifier (AUDIENCE)
  --api-url URL       where the example API runs (API_URL), e.g. http://localhost:3001
  --device            login with the device flow (no browser on this machine)
  --no-browser        print the sign-in URL instead of opening the browser
  --store KIND        keychain (default) | secret-tool | file (LATCHKEY_STORE)
  --store-path PATH   file store location (LATCHKEY_STORE_PATH)
  The file store encrypts with LATCHKEY_STORE_PASSPHRASE; it is never written in plain text.`;

/** Flags win over environment variables. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): CliConfig {
  const { values, positionals } = parseArgs({
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
    },
  });
  const clientId = values['client-id'] ?? env.CLIENT_ID;
  if (!clientId) throw new UsageError('Missing --client-id (or CLIENT_ID).');
  const issuer = values.issuer ?? env.LATCHKEY_ISSUER;
  const domain = values.domain ?? env.AUTH0_DOMAIN;
  if (!issuer && !domain) throw new UsageError('Missing --issuer or --domain (LATCHKEY_ISSUER / AUTH0_DOMAIN).');
  const store = (values.store ?? env.LATCHKEY_STORE ?? 'keychain') as StoreKind;
  if (!['keychain', 'secret-tool', 'file'].includes(store)) throw new UsageError(`Unknown store ${store}.`);
  const configHome = env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return {
    command: positionals[0],
    ...(issuer ? { issuer } : {}),
    ...(domain ? { domain } : {}),
    clientId,
    ...optional('audience', values.audience ?? env.AUDIENCE),
    ...optional('apiUrl', values['api-url'] ?? env.API_URL),
    device: values.device ?? false,
    openBrowser: !values['no-browser'],
    store,
    storePath: values['store-path'] ?? env.LATCHKEY_STORE_PATH ?? join(configHome, 'latchkey-cli', 'session.bin'),
    ...optional('passphrase', env.LATCHKEY_STORE_PASSPHRASE),
  };
}

export class UsageError extends Error {}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value !== undefined && value !== '' ? { [key]: value } : {}) as { [P in K]?: string };
}
