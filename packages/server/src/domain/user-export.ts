import { type CustomPasswordHash, decodeCustomPasswordHash } from '../crypto/imported-hashes.js';
import type { Storage } from '../storage/types.js';
import { DomainError } from './errors.js';
import type { Connection, User, UserRecord } from './types.js';

/** One page of users held in memory at a time, whatever the size of the tenant. */
const PAGE = 500;

/**
 * A user in Auth0's bulk user import format (the users file of POST /api/v2/jobs/users-imports), so that
 * leaving latchkey for Auth0, or for another server that reads that format, keeps the users' passwords.
 * The format has no place for identities, created_at or logins: it describes a user to be created.
 */
export interface ImportFormatUser {
  user_id: string;
  email?: string;
  email_verified: boolean;
  username?: string;
  phone_number?: string;
  given_name?: string;
  family_name?: string;
  name?: string;
  nickname?: string;
  picture?: string;
  blocked: boolean;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
  password_hash?: string;
  custom_password_hash?: CustomPasswordHash;
}

export type ExportedHash = 'argon2' | 'bcrypt' | 'custom' | 'none' | 'unexportable';

/**
 * The stored hash in the import format: argon2 as custom_password_hash (Auth0 accepts argon2 PHC strings),
 * bcrypt as password_hash, a still-unconverted imported hash as the custom_password_hash it came in as.
 */
export function exportedPasswordHash(passwordHash: string | null): {
  kind: ExportedHash;
  fields: Pick<ImportFormatUser, 'password_hash' | 'custom_password_hash'>;
} {
  if (passwordHash === null) return { kind: 'none', fields: {} };
  if (/^\$argon2(id|i|d)\$/.test(passwordHash)) {
    return { kind: 'argon2', fields: { custom_password_hash: { algorithm: 'argon2', hash: { value: passwordHash } } } };
  }
  if (/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(passwordHash)) {
    // $2y$ (PHP's name) is the same algorithm as $2b$, which the import format names; only the label differs.
    return { kind: 'bcrypt', fields: { password_hash: passwordHash.replace(/^\$2y\$/, '$2b$') } };
  }
  const custom = decodeCustomPasswordHash(passwordHash);
  if (custom) return { kind: 'custom', fields: { custom_password_hash: custom } };
  return { kind: 'unexportable', fields: {} };
}

/** Database users get `auth0|<id>`; the import format wants `<id>`, to which the importer prepends the strategy. */
function importUserId(userId: string): string {
  return userId.startsWith('auth0|') ? userId.slice('auth0|'.length) : userId;
}

export function toImportFormat(user: User, passwordHash: string | null, withPasswordHashes: boolean) {
  const out: ImportFormatUser = { user_id: importUserId(user.user_id), email_verified: user.email_verified, blocked: user.blocked };
  for (const key of ['email', 'username', 'phone_number', 'given_name', 'family_name', 'name', 'nickname', 'picture'] as const) {
    if (user[key] !== undefined) out[key] = user[key];
  }
  if (Object.keys(user.app_metadata).length > 0) out.app_metadata = user.app_metadata;
  if (Object.keys(user.user_metadata).length > 0) out.user_metadata = user.user_metadata;
  const hash = withPasswordHashes ? exportedPasswordHash(passwordHash) : { kind: 'none' as const, fields: {} };
  return { user: { ...out, ...hash.fields }, hash: hash.kind };
}

export interface ExportSummary {
  users: number;
  hashes: Record<ExportedHash, number>;
}

/** The database connections to export: the named one (which must be a database connection), or all of them. */
async function databaseConnections(storage: Pick<Storage, 'connections'>, name: string | undefined): Promise<string[]> {
  if (name !== undefined) {
    const connection = await storage.connections.getByName(name);
    if (!connection) throw new DomainError('not_found', 'inexistent_connection', `No connection named '${name}'.`);
    if (connection.strategy !== 'auth0') {
      throw new DomainError('invalid', 'not_a_database_connection', `'${name}' is not a database connection: its users have no password.`);
    }
    return [name];
  }
  const names: string[] = [];
  let from: string | undefined;
  do {
    const page = await storage.connections.list({ strategy: 'auth0' }, { kind: 'checkpoint', from, take: 100 });
    names.push(...page.items.map((c: Connection) => c.name));
    from = page.next;
  } while (from);
  return names;
}

/**
 * Writes the users of the database connections as one JSON array, a page at a time through `write`
 * (which should wait for the sink to drain). Without `withPasswordHashes` no hash leaves the database.
 */
export async function exportUsers(
  storage: Pick<Storage, 'users' | 'connections'>,
  options: { connection?: string; withPasswordHashes: boolean },
  write: (chunk: string) => Promise<void>,
): Promise<ExportSummary> {
  const summary: ExportSummary = { users: 0, hashes: { argon2: 0, bcrypt: 0, custom: 0, none: 0, unexportable: 0 } };
  await write('[');
  for (const connection of await databaseConnections(storage, options.connection)) {
    let after: string | undefined;
    for (;;) {
      const page: UserRecord[] = await storage.users.listRecordsAfter(
        after === undefined ? { connection } : { connection, afterUserId: after },
        PAGE,
      );
      if (page.length === 0) break;
      let chunk = '';
      for (const record of page) {
        const { user, hash } = toImportFormat(record.user, record.passwordHash, options.withPasswordHashes);
        chunk += `${summary.users === 0 ? '\n' : ',\n'}${JSON.stringify(user)}`;
        summary.users++;
        summary.hashes[hash]++;
      }
      await write(chunk);
      after = page[page.length - 1]!.user.user_id;
      if (page.length < PAGE) break;
    }
  }
  await write(summary.users === 0 ? ']\n' : '\n]\n');
  return summary;
}
