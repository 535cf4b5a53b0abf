/**
 * First sign-in of imported users: what the password check costs when a user arrives with a hash from
 * another system (bcrypt cost 10 as Auth0 exports it, PBKDF2 with Auth0's default parameters, salted
 * SHA-256) against a user created here (argon2id), and what the first full sign-in costs, which also
 * replaces the imported hash with argon2id. The second sign-in of the same users is shown next to it.
 *
 * Usage: npm run bench:first-sign-in-imported [-- -- --postgres, --users 20, --checks 40]
 * (two `--`: the root script runs this one through a second `npm run`).
 *
 * Prints figures, checks none against a target. Exits non-zero only when the figures cannot be trusted:
 * setup fails, a sign-in fails, or an imported hash is not replaced by argon2id after its first sign-in.
 */
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { hashSync as bcryptHashSync } from '@node-rs/bcrypt';
import { encodeCustomPasswordHash } from '../packages/server/src/crypto/imported-hashes.js';
import { hashPassword, needsRehash, verifyPassword } from '../packages/server/src/crypto/passwords.js';
import { openStorage } from '../packages/server/src/storage/index.js';
import { expectAlive, expectStatus, loadAverage, percentile, positiveInteger, printTable, runBenchmark } from './lib/harness.js';
import { createNativeApp, DATABASE_CONNECTION, expectBuiltServer, type StorageKind, startLatchkey, storageLabel } from './lib/latchkey.js';
import { API_IDENTIFIER, PASSWORD, REGISTERED_CALLBACK, signInOnce, type Tenant } from './lib/sign-in.js';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'boolean', default: false },
    users: { type: 'string', default: '20' },
    checks: { type: 'string', default: '40' },
  },
});
const storages: StorageKind[] = args.postgres ? ['sqlite', 'postgres'] : ['sqlite'];
const usersPerKind = positiveInteger(args.users, '--users');
const checksPerKind = positiveInteger(args.checks, '--checks');

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

function encoded(customPasswordHash: unknown): string {
  const result = encodeCustomPasswordHash(customPasswordHash);
  if (!('encoded' in result)) throw new Error(`custom_password_hash refused: ${JSON.stringify(result.error)}`);
  return result.encoded;
}

/** A kind of user and how to make the stored hash of one user of that kind (each with its own salt). */
interface Kind {
  name: string;
  makeHash(password: string): Promise<string>;
}

const KINDS: Kind[] = [
  { name: 'native argon2id', makeHash: (password) => hashPassword(password) },
  {
    name: 'imported bcrypt, cost 10',
    makeHash: async (password) => bcryptHashSync(password, { cost: 10 }),
  },
  {
    name: 'imported pbkdf2-sha512, i=100000 l=64',
    makeHash: async (password) => {
      const salt = randomBytes(16);
      const dk = pbkdf2Sync(password, salt, 100000, 64, 'sha512');
      return encoded({ algorithm: 'pbkdf2', hash: { value: `$pbkdf2-sha512$i=100000,l=64$${b64(salt)}$${b64(dk)}` } });
    },
  },
  {
    name: 'imported sha256, salted',
    makeHash: async (password) => {
      const salt = randomBytes(16).toString('hex');
      const digest = createHash('sha256').update(`${salt}${password}`).digest('hex');
      return encoded({ algorithm: 'sha256', hash: { value: digest, encoding: 'hex' }, salt: { value: salt, position: 'prefix' } });
    },
  },
];

const sortedMs = (samples: number[]) => Float64Array.from(samples).sort();
const ms = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(1));
const p50p99 = (samples: number[]) => {
  const sorted = sortedMs(samples);
  return [ms(percentile(sorted, 50)), ms(percentile(sorted, 99))];
};

// ---------------------------------------------------------------------------------------------
// The password work alone, in this process: the check, and the check plus the argon2id rehash that a
// first sign-in of an imported user adds.

async function passwordChecks(): Promise<void> {
  const rows: string[][] = [];
  for (const kind of KINDS) {
    const hashes: string[] = [];
    for (let i = 0; i < checksPerKind; i++) hashes.push(await kind.makeHash(PASSWORD));
    await verifyPassword(PASSWORD, hashes[0]!); // warm-up
    const checks: number[] = [];
    const firstSignIns: number[] = [];
    for (const stored of hashes) {
      const startedAt = performance.now();
      if (!(await verifyPassword(PASSWORD, stored))) throw new Error(`${kind.name}: the password did not verify`);
      const checked = performance.now();
      if (needsRehash(stored)) await hashPassword(PASSWORD);
      const done = performance.now();
      checks.push(checked - startedAt);
      firstSignIns.push(done - startedAt);
    }
    rows.push([kind.name, ...p50p99(checks), ...p50p99(firstSignIns)]);
  }
  console.log(`Password work in one process, ${checksPerKind} users of each kind, one after the other`);
  printTable(['user', 'check p50 ms', 'check p99 ms', 'check + rehash p50 ms', 'check + rehash p99 ms'], rows, '  ');
}

// ---------------------------------------------------------------------------------------------
// Full sign-ins against the built server: authorize, login page, password post, code exchange.

async function fullSignIns(storage: StorageKind): Promise<void> {
  const latchkey = await startLatchkey(storage);
  const { management } = await latchkey.managementApi();
  // The API the sign-in asks a token for (lib/sign-in.ts), as in the login-flow benchmark.
  expectStatus(
    'create resource server',
    await management('POST', '/resource-servers', {
      identifier: API_IDENTIFIER,
      name: 'Benchmark API',
      signing_alg: 'RS256',
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: true,
    }),
    201,
  );
  const tenant: Tenant = { issuer: latchkey.issuer, clientId: await createNativeApp(management, REGISTERED_CALLBACK), emails: [] };

  // Users are created through the Management API, then given the hash an import would leave.
  const opened = await openStorage(latchkey.databaseUrl);
  const usersOf = new Map<Kind, Array<{ email: string; userId: string }>>();
  try {
    for (const [k, kind] of KINDS.entries()) {
      const users: Array<{ email: string; userId: string }> = [];
      for (let i = 0; i < usersPerKind; i++) {
        const email = `kind-${k}-user-${i}@bench.latchkey.local`;
        const created = expectStatus(
          'create user',
          await management('POST', '/users', { connection: DATABASE_CONNECTION, email, password: PASSWORD }),
          201,
        );
        if (k > 0) {
          const record = await opened.users.get(created.user_id);
          if (!record || (await opened.users.update({ ...record, passwordHash: await kind.makeHash(PASSWORD) })) !== true)
            throw new Error(`could not store the imported hash of ${email}`);
        }
        users.push({ email, userId: created.user_id });
      }
      usersOf.set(kind, users);
    }

    await signInOnce(tenant, usersOf.get(KINDS[0]!)![0]!.email); // warm-up
    const rows: string[][] = [];
    for (const kind of KINDS) {
      const users = usersOf.get(kind)!;
      const first: number[] = [];
      const second: number[] = [];
      for (const round of [first, second]) {
        for (const { email } of users) {
          const startedAt = performance.now();
          await signInOnce(tenant, email);
          round.push(performance.now() - startedAt);
        }
        expectAlive(latchkey.server, `during the sign-ins of ${kind.name}`);
      }
      for (const { email, userId } of users) {
        const stored = (await opened.users.get(userId))?.passwordHash ?? '';
        if (!stored.startsWith('$argon2id$')) throw new Error(`${email}: the hash is not argon2id after two sign-ins`);
      }
      rows.push([kind.name, ...p50p99(first), ...p50p99(second)]);
    }
    console.log(`\nFull sign-ins on ${latchkey.name}, ${usersPerKind} users of each kind, one sign-in at a time`);
    printTable(['user', 'first p50 ms', 'first p99 ms', 'second p50 ms', 'second p99 ms'], rows, '  ');
  } finally {
    await opened.close();
    await latchkey.server.stop();
  }
}

async function main(): Promise<number> {
  expectBuiltServer();
  console.log(
    `first sign-in of imported users on ${storages.map(storageLabel).join(' and ')}; ` +
      `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, load average ${loadAverage()}\n`,
  );
  await passwordChecks();
  for (const storage of storages) await fullSignIns(storage);
  console.log(
    '\nA first sign-in of an imported user checks the old hash and then computes argon2id once; from then on it costs what a ' +
      "native user's does. bcrypt cost 10 and PBKDF2 at 100000 iterations are slow on purpose, salted SHA-256 is not.",
  );
  return 0;
}

await runBenchmark(main);
