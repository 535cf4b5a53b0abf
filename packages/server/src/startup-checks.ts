import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Config } from './config.js';

/**
 * A start that cannot go on, told in one line naming what to fix (no stack trace). Carries the admin
 * credentials when they were created before the failure, so the CLI can still show them once.
 */
export class StartupError extends Error {
  override name = 'StartupError';
  generatedAdmin?: { clientId: string; clientSecret: string };

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/** The first line of what went wrong; pg reports a refused connection as an AggregateError with no message. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const nested = err instanceof AggregateError ? err.errors.find((e): e is Error => e instanceof Error) : undefined;
  const text = err.message || nested?.message || (err as { code?: string }).code || err.name;
  return text.split('\n')[0]!;
}

/**
 * Reads and checks the TLS files before anything is created: an unreadable file, a file that is not
 * PEM, or a key that does not match the certificate is found here, not after the first start made
 * the tenant.
 */
export function tlsFiles(config: Pick<Config, 'tlsCert' | 'tlsKey'>): { cert: Buffer; key: Buffer } | null {
  if (!config.tlsCert || !config.tlsKey) return null;
  const read = (variable: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new StartupError(`latchkey: cannot read ${variable} (${path}): ${errorText(err)}`);
    }
  };
  const cert = read('LATCHKEY_TLS_CERT', config.tlsCert);
  const key = read('LATCHKEY_TLS_KEY', config.tlsKey);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new StartupError(
      `latchkey: LATCHKEY_TLS_CERT (${config.tlsCert}) and LATCHKEY_TLS_KEY (${config.tlsKey}) ` +
        `are not a usable PEM certificate and matching key: ${errorText(err)}`,
    );
  }
  return { cert, key };
}

const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'the port is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: "the address is not one of this machine's",
  ENOTFOUND: 'the host name does not resolve',
};

export function listenError(config: Pick<Config, 'host' | 'port'>, err: unknown): StartupError {
  const code = (err as { code?: string }).code ?? '';
  const problem = LISTEN_PROBLEMS[code] ?? errorText(err);
  return new StartupError(`latchkey: cannot listen on ${config.host}:${config.port} (LATCHKEY_HOST, LATCHKEY_PORT): ${problem}`, {
    cause: err,
  });
}

/**
 * Binds the port once and lets it go, so a port in use stops the start before the tenant and its
 * admin credentials are created. (Someone may still take it in between; then the credentials are
 * printed with the error.)
 */
export async function assertCanListen(config: Pick<Config, 'host' | 'port'>): Promise<void> {
  if (config.port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) => reject(listenError(config, err)));
    probe.listen({ port: config.port, host: config.host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** The database URL without its password, for messages. */
export function describeDatabaseUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/, '$1:***@');
}
