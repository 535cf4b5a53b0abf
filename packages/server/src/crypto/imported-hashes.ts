/**
 * Password hashes imported from other systems in the shape of Auth0's user import `custom_password_hash`
 * (bulk user import schema): validated once at import, stored as a versioned compact JSON string in the
 * user's password hash column, verified at sign-in and then replaced by argon2id (see crypto/passwords.ts).
 *
 * Primitives come from node:crypto, @node-rs/argon2 and @node-rs/bcrypt; MD4 and Whirlpool, which
 * OpenSSL 3 keeps in its legacy provider (not loaded by Node), come from hash-wasm.
 */
import { createHash, createHmac, pbkdf2 as pbkdf2Callback, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { verify as verifyArgon2 } from '@node-rs/argon2';
import { verify as verifyBcrypt } from '@node-rs/bcrypt';
import { createHMAC, createMD4, createWhirlpool, type IHasher } from 'hash-wasm';
import { DomainError } from '../domain/errors.js';

const pbkdf2 = promisify(pbkdf2Callback);
const scrypt = promisify(scryptCallback) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export const CUSTOM_HASH_ALGORITHMS = [
  'argon2',
  'bcrypt',
  'hmac',
  'ldap',
  'md4',
  'md5',
  'sha1',
  'sha256',
  'sha512',
  'pbkdf2',
  'scrypt',
] as const;
export type CustomHashAlgorithm = (typeof CUSTOM_HASH_ALGORITHMS)[number];

const ENCODINGS = ['base64', 'hex', 'utf8'] as const;
type Encoding = (typeof ENCODINGS)[number];
const HMAC_DIGESTS = ['md4', 'md5', 'ripemd160', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'whirlpool'] as const;
/** The digests Auth0 lists for `$pbkdf2-<digest>$`; those neither OpenSSL's default provider nor hash-wasm has are refused. */
const PBKDF2_DIGESTS = [
  'RSA-MD4',
  'RSA-MD5',
  'RSA-MDC2',
  'RSA-RIPEMD160',
  'RSA-SHA1',
  'RSA-SHA1-2',
  'RSA-SHA224',
  'RSA-SHA256',
  'RSA-SHA384',
  'RSA-SHA512',
  'md4',
  'md4WithRSAEncryption',
  'md5',
  'md5WithRSAEncryption',
  'mdc2',
  'mdc2WithRSA',
  'ripemd',
  'ripemd160',
  'ripemd160WithRSA',
  'rmd160',
  'sha1',
  'sha1WithRSAEncryption',
  'sha224',
  'sha224WithRSAEncryption',
  'sha256',
  'sha256WithRSAEncryption',
  'sha384',
  'sha384WithRSAEncryption',
  'sha512',
  'sha512WithRSAEncryption',
  'ssl3-md5',
  'ssl3-sha1',
  'whirlpool',
] as const;
const PASSWORD_ENCODINGS = ['ascii', 'utf8', 'utf16le', 'ucs2', 'latin1', 'binary'] as const;
type PasswordEncoding = (typeof PASSWORD_ENCODINGS)[number];
const SALT_POSITIONS = ['prefix', 'suffix'] as const;

/** Version tag of the stored form; never a prefix another verifier claims ($argon2, $2a$...). */
export const IMPORTED_HASH_PREFIX = '$latchkey-custom$v1$';

/**
 * Bounds on what an import can make sign-in compute or the database store (Auth0 documents none). A
 * wrong password costs a whole verification, and anonymous attempts get 10 per account per 15 minutes
 * (login/throttle.ts): the bounds are on the work, not only on the memory.
 */
const MAX_TEXT = 2048;
/** For keys up to 64 bytes; PBKDF2 derives each digest-sized block of the key separately, so longer ones get fewer. */
const MAX_PBKDF2_ITERATIONS = 5_000_000;
const MAX_KEY_LENGTH = 1024;
/** PBKDF2 over MD4 or Whirlpool runs in WebAssembly (in a worker thread), several times slower than OpenSSL. */
const MAX_WASM_PBKDF2_ITERATIONS = 200_000;
/** A sign-in may run several of these at once (libuv's threads): 256 MiB each at most. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
/**
 * scrypt runs its memory-hard mix once per unit of parallelization (one after the other, in Node), so
 * its work is 128 * N * r * p bytes mixed: at most four passes' worth of the memory bound (a second or
 * two), which N = 16384, r = 8 leaves p up to 64.
 */
const MAX_SCRYPT_WORK = 4 * MAX_SCRYPT_MEMORY;
const MAX_ARGON2_MEMORY_KIB = 256 * 1024;
const MAX_ARGON2_PASSES = 64;
/** Memory times passes: four passes over the most memory (a couple of seconds), or 64 over 16 MiB. */
const MAX_ARGON2_WORK_KIB = 4 * MAX_ARGON2_MEMORY_KIB;

/** The normalised import object: what is stored (behind the prefix) and what the export gives back. */
export interface CustomPasswordHash {
  algorithm: CustomHashAlgorithm;
  hash: { value: string; encoding?: Encoding; digest?: string; key?: { value: string; encoding?: Encoding } };
  salt?: { value: string; encoding?: Encoding; position?: (typeof SALT_POSITIONS)[number] };
  password?: { encoding: PasswordEncoding };
  keylen?: number;
  cost?: number;
  blockSize?: number;
  parallelization?: number;
}

export interface ImportFieldError {
  code: string;
  message: string;
  path: string;
}

type Obj = Record<string, unknown>;

/** A field of the hash object that breaks Auth0's schema; `details.field` is its path. */
const invalidAt = (code: string, message: string, path: string) => new DomainError('invalid', code, message, { field: path });

const ROOT = 'custom_password_hash';
const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

function expectObject(value: unknown, path: string): Obj {
  if (!isObject(value)) throw invalidAt('INVALID_TYPE', `Expected type object but found type ${typeName(value)}`, path);
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function optionalString(obj: Obj, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw invalidAt('INVALID_TYPE', `Expected type string but found type ${typeName(value)}`, `${path}.${key}`);
  if (value.length > MAX_TEXT)
    throw invalidAt('MAX_LENGTH', `String is too long (${value.length} chars), maximum ${MAX_TEXT}`, `${path}.${key}`);
  return value;
}

function requiredString(obj: Obj, key: string, path: string): string {
  const value = optionalString(obj, key, path);
  if (value === undefined) throw invalidAt('OBJECT_MISSING_REQUIRED_PROPERTY', `Missing required property: ${key}`, path);
  return value;
}

function optionalEnum<T extends string>(obj: Obj, key: string, path: string, allowed: readonly T[]): T | undefined {
  const value = optionalString(obj, key, path);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw invalidAt('ENUM_MISMATCH', `No enum match for: ${value} (allowed: ${allowed.join(', ')})`, `${path}.${key}`);
  return value as T;
}

function optionalInteger(obj: Obj, key: string, path: string, min: number, max: number): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw invalidAt('INVALID_TYPE', `Expected type integer but found type ${typeName(value)}`, `${path}.${key}`);
  if (value < min) throw invalidAt('MINIMUM', `Value ${value} is less than minimum ${min}`, `${path}.${key}`);
  if (value > max) throw invalidAt('MAXIMUM', `Value ${value} is greater than maximum ${max}`, `${path}.${key}`);
  return value;
}

function rejectAdditional(obj: Obj, allowed: readonly string[], path: string): void {
  const extra = Object.keys(obj).filter((key) => !allowed.includes(key));
  if (extra.length > 0) throw invalidAt('OBJECT_ADDITIONAL_PROPERTIES', `Additional properties not allowed: ${extra.join(',')}`, path);
}

/** Decodes hex (either case) or base64 (standard or URL-safe, padded or not) strictly: junk characters are an error. */
export function decodeBytes(value: string, encoding: Encoding): Buffer | undefined {
  if (encoding === 'utf8') return Buffer.from(value, 'utf8');
  if (encoding === 'hex') return /^(?:[0-9a-fA-F]{2})*$/.test(value) ? Buffer.from(value, 'hex') : undefined;
  const unpadded = value.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]*$/.test(unpadded) || unpadded.length % 4 === 1) return undefined;
  return Buffer.from(unpadded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

const DIGEST_LENGTHS: Record<string, number> = { md5: 16, sha1: 20, sha256: 32, sha384: 48, sha512: 64 };
/** RFC 2307 schemes OpenLDAP documents (md5|smd5|sha*|ssha*); {CRYPT} is system dependent and refused, as Auth0 does. */
const LDAP_SCHEMES: Record<string, { digest: string; salted: boolean }> = {
  MD5: { digest: 'md5', salted: false },
  SMD5: { digest: 'md5', salted: true },
  SHA: { digest: 'sha1', salted: false },
  SSHA: { digest: 'sha1', salted: true },
  SHA1: { digest: 'sha1', salted: false },
  SSHA1: { digest: 'sha1', salted: true },
  SHA256: { digest: 'sha256', salted: false },
  SSHA256: { digest: 'sha256', salted: true },
  SHA384: { digest: 'sha384', salted: false },
  SSHA384: { digest: 'sha384', salted: true },
  SHA512: { digest: 'sha512', salted: false },
  SSHA512: { digest: 'sha512', salted: true },
};

function parseLdap(value: string): { digest: string; hash: Buffer; salt: Buffer } | undefined {
  const match = /^\{([A-Za-z0-9]+)\}(.+)$/.exec(value);
  if (!match) return undefined;
  const scheme = LDAP_SCHEMES[match[1]!.toUpperCase()];
  const bytes = decodeBytes(match[2]!, 'base64');
  if (!scheme || !bytes) return undefined;
  const length = DIGEST_LENGTHS[scheme.digest]!;
  if (scheme.salted ? bytes.length <= length : bytes.length !== length) return undefined;
  return { digest: scheme.digest, hash: bytes.subarray(0, length), salt: bytes.subarray(length) };
}

interface Pbkdf2Params {
  digest: string;
  iterations: number;
  keylen: number;
  salt: Buffer;
  hash: Buffer;
}

/** `$pbkdf2-<digest>$i=<iterations>,l=<keylen>$<B64 salt>$<B64 hash>`; i and l default to 100000 and 64. */
function parsePbkdf2(value: string): Pbkdf2Params | string {
  const parts = value.split('$');
  if (parts.length !== 5 && parts.length !== 4) return "must be a PHC string '$pbkdf2-<digest>$i=<iterations>,l=<keylen>$<salt>$<hash>'";
  const [empty, id, ...rest] = parts;
  if (empty !== '' || !id!.startsWith('pbkdf2-')) return "must be a PHC string whose id is 'pbkdf2-<digest>'";
  const digest = id!.slice('pbkdf2-'.length);
  if (!(PBKDF2_DIGESTS as readonly string[]).includes(digest)) return `digest '${digest}' is not one of ${PBKDF2_DIGESTS.join(', ')}`;
  if (!pbkdf2Available(digest)) return `digest '${digest}' is not available on this server`;
  const params = rest.length === 3 ? rest[0]! : '';
  const [saltText, hashText] = rest.length === 3 ? [rest[1]!, rest[2]!] : [rest[0]!, rest[1]!];
  let iterations = 100000;
  let keylen = 64;
  for (const pair of params === '' ? [] : params.split(',')) {
    const m = /^([il])=(\d{1,10})$/.exec(pair);
    if (!m) return `unknown or malformed parameter '${pair}' (expected i=<iterations>,l=<keylen>)`;
    if (m[1] === 'i') iterations = Number(m[2]);
    else keylen = Number(m[2]);
  }
  const maxIterations = wasmHasher(digest) ? MAX_WASM_PBKDF2_ITERATIONS : MAX_PBKDF2_ITERATIONS;
  if (iterations < 1 || iterations > maxIterations) return `iterations must be between 1 and ${maxIterations} for ${digest}`;
  if (keylen < 1 || keylen > MAX_KEY_LENGTH) return `keylen must be between 1 and ${MAX_KEY_LENGTH}`;
  // The bound on iterations holds for keys up to the default 64 bytes; a longer key divides it.
  const blocks = (length: number) => Math.ceil(length / digestLength(digest));
  const maxWork = maxIterations * blocks(64);
  if (iterations * blocks(keylen) > maxWork) {
    return `iterations times the ${blocks(keylen)} ${digest} blocks of a ${keylen}-byte key must be at most ${maxWork}`;
  }
  const salt = decodeBytes(saltText, 'base64');
  const hash = decodeBytes(hashText, 'base64');
  if (!salt || salt.length === 0) return 'salt must be B64 (base64 without padding)';
  if (!hash || hash.length === 0) return 'hash must be B64 (base64 without padding)';
  if (hash.length !== keylen) return `hash is ${hash.length} bytes but l=${keylen}`;
  return { digest, iterations, keylen, salt, hash };
}

/** Node maps these names onto OpenSSL digests; md4 and whirlpool go through hash-wasm instead. */
const WASM_HASHERS: Record<string, () => Promise<IHasher>> = {
  md4: createMD4,
  'rsa-md4': createMD4,
  md4withrsaencryption: createMD4,
  whirlpool: createWhirlpool,
};

function wasmHasher(digest: string): (() => Promise<IHasher>) | undefined {
  return WASM_HASHERS[digest.toLowerCase()];
}

/** Whether OpenSSL's default provider has the digest (getHashes() leaves out aliases such as rmd160). */
function nodeDigestWorks(digest: string): boolean {
  try {
    createHash(digest).update('').digest();
    return true;
  } catch {
    return false;
  }
}

/** Bytes of one digest: PBKDF2 runs all its iterations once per digest-sized block of the key. */
function digestLength(digest: string): number {
  const wasm = digest.toLowerCase() === 'whirlpool' ? 64 : wasmHasher(digest) ? 16 : undefined;
  return wasm ?? createHash(digest).digest().length;
}

function pbkdf2Available(digest: string): boolean {
  return wasmHasher(digest) !== undefined || nodeDigestWorks(digest);
}

async function digestOf(digest: string, data: Buffer): Promise<Buffer> {
  const wasm = wasmHasher(digest);
  if (wasm) {
    const hasher = await wasm();
    hasher.init();
    hasher.update(data);
    return Buffer.from(hasher.digest('binary'));
  }
  return createHash(digest).update(data).digest();
}

async function hmacOf(digest: string, key: Buffer, data: Buffer): Promise<Buffer> {
  const wasm = wasmHasher(digest);
  if (wasm) {
    const hasher = await createHMAC(wasm(), key);
    hasher.init();
    hasher.update(data);
    return Buffer.from(hasher.digest('binary'));
  }
  return createHmac(digest, key).update(data).digest();
}

/**
 * hash-wasm's PBKDF2 (MD4, Whirlpool) would hold the event loop for the whole derivation (about a second
 * at 100000 iterations), so it runs in a short-lived worker thread, one derivation at a time: such
 * hashes are verified once per imported user, at the first sign-in.
 */
const PBKDF2_WORKER = `
const { parentPort, workerData: job } = require('node:worker_threads');
const hashWasm = require(job.module);
const hashFunction = (job.digest === 'whirlpool' ? hashWasm.createWhirlpool : hashWasm.createMD4)();
const { password, salt, iterations, keylen: hashLength } = job;
hashWasm
  .pbkdf2({ password, salt, iterations, hashLength, hashFunction, outputType: 'binary' })
  .then((key) => parentPort.postMessage(key));
`;
let wasmQueue: Promise<unknown> = Promise.resolve();
/**
 * Derivations waiting or running. Each takes up to a second or two, one at a time, and anyone can
 * start one by guessing a password for such a user (10 guesses per account, many accounts): past this,
 * a sign-in is refused at once instead of queued, so neither the wait nor the memory grows.
 */
export const MAX_WASM_PBKDF2_QUEUE = 8;
let wasmQueued = 0;

/** The verification was not run: too many are queued. A sign-in answers 429 and may be retried shortly. */
export const verificationBusy = () =>
  new DomainError('limit', 'too_many_requests', 'Too many sign-ins are being checked right now. Try again in a few seconds.');

function wasmPbkdf2InWorker(p: Pbkdf2Params, password: Buffer): Promise<Buffer> {
  if (wasmQueued >= MAX_WASM_PBKDF2_QUEUE) return Promise.reject(verificationBusy());
  wasmQueued += 1;
  const run = () =>
    new Promise<Buffer>((resolve, reject) => {
      const worker = new Worker(PBKDF2_WORKER, {
        eval: true,
        workerData: {
          module: createRequire(import.meta.url).resolve('hash-wasm'),
          digest: p.digest.toLowerCase() === 'whirlpool' ? 'whirlpool' : 'md4',
          password,
          salt: p.salt,
          iterations: p.iterations,
          keylen: p.keylen,
        },
      });
      worker.once('message', (key: Uint8Array) => {
        resolve(Buffer.from(key));
        void worker.terminate();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`pbkdf2 worker exited with code ${code}`)));
    });
  const result = wasmQueue.then(run, run).finally(() => {
    wasmQueued -= 1;
  });
  wasmQueue = result.catch(() => undefined);
  return result;
}

/** Cost of an argon2 PHC string, bounded so an import cannot make each sign-in allocate gigabytes. */
function checkArgon2(value: string): string | undefined {
  const m = /^\$(argon2(?:id|i|d))\$(?:v=(\d+)\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(value);
  if (!m) return "must be an argon2 PHC string '$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<B64 salt>$<B64 hash>'";
  if (m[2] !== undefined && m[2] !== '19' && m[2] !== '16') return 'version must be v=19 or v=16';
  if (Number(m[3]) > MAX_ARGON2_MEMORY_KIB) return `memory cost m must be at most ${MAX_ARGON2_MEMORY_KIB} KiB`;
  if (Number(m[4]) < 1 || Number(m[4]) > MAX_ARGON2_PASSES) return `time cost t must be between 1 and ${MAX_ARGON2_PASSES}`;
  if (Number(m[5]) < 1) return 'parallelism p must be at least 1';
  if (Number(m[3]) * Number(m[4]) > MAX_ARGON2_WORK_KIB) return `memory cost m times time cost t must be at most ${MAX_ARGON2_WORK_KIB}`;
  return undefined;
}

/**
 * bcrypt's work doubles with each step of cost: 10 to 12 is what systems use, 15 takes a couple of
 * seconds, and the format's 31 days. Both imports (POST /users password_hash, custom_password_hash) stop at 15.
 */
export const MAX_BCRYPT_COST = 15;
const BCRYPT = /^\$2[ab]\$(0[4-9]|1[0-5])\$[./A-Za-z0-9]{53}$/;

function parse(input: unknown): CustomPasswordHash {
  const root = expectObject(input, ROOT);
  rejectAdditional(root, ['algorithm', 'hash', 'salt', 'password', 'keylen', 'cost', 'blockSize', 'parallelization'], ROOT);
  if (root.algorithm === undefined) throw invalidAt('OBJECT_MISSING_REQUIRED_PROPERTY', 'Missing required property: algorithm', ROOT);
  if (root.hash === undefined) throw invalidAt('OBJECT_MISSING_REQUIRED_PROPERTY', 'Missing required property: hash', ROOT);
  const algorithm = optionalEnum(root, 'algorithm', ROOT, CUSTOM_HASH_ALGORITHMS)!;

  const hashPath = `${ROOT}.hash`;
  const hashObj = expectObject(root.hash, hashPath);
  const hash: CustomPasswordHash['hash'] = { value: requiredString(hashObj, 'value', hashPath) };
  const hashEncoding = optionalEnum(hashObj, 'encoding', hashPath, ENCODINGS);
  if (hashEncoding) hash.encoding = hashEncoding;
  const digest = optionalEnum(hashObj, 'digest', hashPath, HMAC_DIGESTS);
  if (digest) hash.digest = digest;
  if (hashObj.key !== undefined) {
    const keyPath = `${hashPath}.key`;
    const keyObj = expectObject(hashObj.key, keyPath);
    hash.key = { value: requiredString(keyObj, 'value', keyPath) };
    const keyEncoding = optionalEnum(keyObj, 'encoding', keyPath, ENCODINGS);
    if (keyEncoding) hash.key.encoding = keyEncoding;
  }

  const result: CustomPasswordHash = { algorithm, hash };
  if (root.salt !== undefined) {
    const saltPath = `${ROOT}.salt`;
    const saltObj = expectObject(root.salt, saltPath);
    result.salt = { value: requiredString(saltObj, 'value', saltPath) };
    const saltEncoding = optionalEnum(saltObj, 'encoding', saltPath, ENCODINGS);
    if (saltEncoding) result.salt.encoding = saltEncoding;
    const position = optionalEnum(saltObj, 'position', saltPath, SALT_POSITIONS);
    if (position) result.salt.position = position;
  }
  if (root.password !== undefined) {
    const passwordPath = `${ROOT}.password`;
    const passwordObj = expectObject(root.password, passwordPath);
    // Optional in the schema: utf8 by default.
    const encoding = optionalEnum(passwordObj, 'encoding', passwordPath, PASSWORD_ENCODINGS);
    if (encoding !== undefined) result.password = { encoding };
  }
  const keylen = optionalInteger(root, 'keylen', ROOT, 1, MAX_KEY_LENGTH);
  const cost = optionalInteger(root, 'cost', ROOT, 2, 2 ** 24);
  const blockSize = optionalInteger(root, 'blockSize', ROOT, 1, 1024);
  const parallelization = optionalInteger(root, 'parallelization', ROOT, 1, 1024);
  if (algorithm === 'scrypt') {
    Object.assign(result, { keylen, cost, blockSize, parallelization });
    for (const key of ['keylen', 'cost', 'blockSize', 'parallelization'] as const) if (result[key] === undefined) delete result[key];
  } else {
    for (const key of ['keylen', 'cost', 'blockSize', 'parallelization']) {
      if (root[key] !== undefined) throw invalidAt('INVALID_FORMAT', `'${key}' is only used with the scrypt algorithm`, `${ROOT}.${key}`);
    }
  }
  checkAlgorithmRules(result);
  return result;
}

function checkAlgorithmRules(h: CustomPasswordHash): void {
  const encodingPath = `${ROOT}.hash.encoding`;
  const valuePath = `${ROOT}.hash.value`;
  const encoding = h.hash.encoding ?? 'utf8';
  const noSalt = () => {
    if (h.salt !== undefined) throw invalidAt('INVALID_FORMAT', `'salt' is not allowed with the ${h.algorithm} algorithm`, `${ROOT}.salt`);
  };
  const utf8Only = () => {
    if (encoding !== 'utf8')
      throw invalidAt('INVALID_FORMAT', `hash.encoding must be 'utf8' for the ${h.algorithm} algorithm`, encodingPath);
  };
  const binaryEncoding = () => {
    if (encoding !== 'hex' && encoding !== 'base64')
      throw invalidAt('INVALID_FORMAT', `hash.encoding must be 'hex' or 'base64' for the ${h.algorithm} algorithm`, encodingPath);
    const bytes = decodeBytes(h.hash.value, encoding);
    if (!bytes || bytes.length === 0) throw invalidAt('INVALID_FORMAT', `hash.value is not valid ${encoding}`, valuePath);
    return bytes;
  };
  const saltBytes = () => {
    if (!h.salt) return;
    const encodingOfSalt = h.salt.encoding ?? 'utf8';
    if (!decodeBytes(h.salt.value, encodingOfSalt))
      throw invalidAt('INVALID_FORMAT', `salt.value is not valid ${encodingOfSalt}`, `${ROOT}.salt.value`);
  };
  switch (h.algorithm) {
    case 'argon2': {
      utf8Only();
      noSalt();
      const problem = checkArgon2(h.hash.value);
      if (problem) throw invalidAt('INVALID_FORMAT', `hash.value ${problem}`, valuePath);
      return;
    }
    case 'bcrypt':
      utf8Only();
      noSalt();
      if (!BCRYPT.test(h.hash.value))
        throw invalidAt(
          'INVALID_FORMAT',
          `hash.value must be a bcrypt hash prefixed with '$2a$' or '$2b$', of cost 04 to ${MAX_BCRYPT_COST}`,
          valuePath,
        );
      return;
    case 'ldap':
      utf8Only();
      noSalt();
      if (!parseLdap(h.hash.value))
        throw invalidAt(
          'INVALID_FORMAT',
          'hash.value must be an RFC 2307 userPassword value with scheme {MD5}, {SMD5}, {SHA}, {SSHA} or {(S)SHA256/384/512}',
          valuePath,
        );
      return;
    case 'pbkdf2': {
      utf8Only();
      noSalt();
      const parsed = parsePbkdf2(h.hash.value);
      if (typeof parsed === 'string') throw invalidAt('INVALID_FORMAT', `hash.value ${parsed}`, valuePath);
      return;
    }
    case 'hmac': {
      binaryEncoding();
      if (h.hash.digest === undefined)
        throw invalidAt('OBJECT_MISSING_REQUIRED_PROPERTY', 'Missing required property: digest', `${ROOT}.hash`);
      if (h.hash.key === undefined) throw invalidAt('OBJECT_MISSING_REQUIRED_PROPERTY', 'Missing required property: key', `${ROOT}.hash`);
      const keyEncoding = h.hash.key.encoding ?? 'utf8';
      if (!decodeBytes(h.hash.key.value, keyEncoding))
        throw invalidAt('INVALID_FORMAT', `hash.key.value is not valid ${keyEncoding}`, `${ROOT}.hash.key.value`);
      saltBytes();
      return;
    }
    case 'md4':
    case 'md5':
    case 'sha1':
    case 'sha256':
    case 'sha512': {
      const bytes = binaryEncoding();
      const expected = h.algorithm === 'md4' ? 16 : DIGEST_LENGTHS[h.algorithm]!;
      if (bytes.length !== expected)
        throw invalidAt(
          'INVALID_FORMAT',
          `hash.value decodes to ${bytes.length} bytes, a ${h.algorithm} digest has ${expected}`,
          valuePath,
        );
      saltBytes();
      return;
    }
    case 'scrypt': {
      const bytes = binaryEncoding();
      if (!h.salt) throw invalidAt('OBJECT_MISSING_REQUIRED_PROPERTY', 'Missing required property: salt', ROOT);
      saltBytes();
      if (h.keylen === undefined) throw invalidAt('OBJECT_MISSING_REQUIRED_PROPERTY', 'Missing required property: keylen', ROOT);
      if (bytes.length !== h.keylen)
        throw invalidAt('INVALID_FORMAT', `hash.value decodes to ${bytes.length} bytes but keylen is ${h.keylen}`, valuePath);
      const { N, r, p } = scryptParams(h);
      if ((N & (N - 1)) !== 0) throw invalidAt('INVALID_FORMAT', 'cost must be a power of two', `${ROOT}.cost`);
      if (128 * N * r + 128 * r * p > MAX_SCRYPT_MEMORY)
        throw invalidAt('INVALID_FORMAT', `cost * blockSize needs more than ${MAX_SCRYPT_MEMORY / 2 ** 20} MiB`, `${ROOT}.cost`);
      if (128 * N * r * p > MAX_SCRYPT_WORK) {
        const message = `cost * blockSize * parallelization mixes more than ${MAX_SCRYPT_WORK / 2 ** 20} MiB`;
        throw invalidAt('INVALID_FORMAT', message, `${ROOT}.parallelization`);
      }
      return;
    }
  }
}

function scryptParams(h: CustomPasswordHash) {
  return { N: h.cost ?? 16384, r: h.blockSize ?? 8, p: h.parallelization ?? 1 };
}

/**
 * Validates an Auth0 `custom_password_hash` object; on success returns the string to store as the user's password hash.
 * Errors follow the users-imports job error items: `{ code, message, path }` with a dotted path from `custom_password_hash`.
 */
export function encodeCustomPasswordHash(input: unknown): { encoded: string } | { error: ImportFieldError } {
  try {
    return { encoded: IMPORTED_HASH_PREFIX + JSON.stringify(parse(input)) };
  } catch (err) {
    if (err instanceof DomainError && err.details.field !== undefined) {
      return { error: { code: err.code, message: err.message, path: err.details.field } };
    }
    throw err;
  }
}

export function isImportedCustomHash(encoded: string): boolean {
  return encoded.startsWith(IMPORTED_HASH_PREFIX);
}

/** One digest or HMAC, no work factor: checked in microseconds, where argon2id, bcrypt, pbkdf2 and scrypt take milliseconds. */
const FAST_ALGORITHMS: readonly CustomHashAlgorithm[] = ['hmac', 'ldap', 'md4', 'md5', 'sha1', 'sha256', 'sha512'];

/** Whether a stored hash is an imported one without a work factor (see connections/database.ts for why it matters). */
export function isFastImportedHash(encoded: string): boolean {
  const h = decodeCustomPasswordHash(encoded);
  return h !== undefined && FAST_ALGORITHMS.includes(h.algorithm);
}

/** The stored object, for the export; undefined when the string is not a stored custom hash. */
export function decodeCustomPasswordHash(encoded: string): CustomPasswordHash | undefined {
  if (!isImportedCustomHash(encoded)) return undefined;
  try {
    return parse(JSON.parse(encoded.slice(IMPORTED_HASH_PREFIX.length)));
  } catch {
    return undefined;
  }
}

function saltedMessage(h: CustomPasswordHash, password: Buffer): Buffer {
  if (!h.salt) return password;
  const salt = decodeBytes(h.salt.value, h.salt.encoding ?? 'utf8')!;
  return h.salt.position === 'suffix' ? Buffer.concat([password, salt]) : Buffer.concat([salt, password]);
}

function sameBytes(actual: Buffer, expected: Buffer): boolean {
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Verifies a password against a stored custom hash; false for anything malformed. */
export async function verifyCustomPasswordHash(password: string, encoded: string): Promise<boolean> {
  const h = decodeCustomPasswordHash(encoded);
  if (!h) return false;
  // Auth0 transcodes the utf8 password typed at login into the encoding the old system hashed.
  const pw = Buffer.from(password, h.password?.encoding ?? 'utf8');
  switch (h.algorithm) {
    case 'argon2':
      return verifyArgon2(h.hash.value, pw);
    case 'bcrypt':
      return verifyBcrypt(pw, h.hash.value);
    case 'ldap': {
      const parsed = parseLdap(h.hash.value)!;
      return sameBytes(await digestOf(parsed.digest, Buffer.concat([pw, parsed.salt])), parsed.hash);
    }
    case 'pbkdf2': {
      const p = parsePbkdf2(h.hash.value) as Pbkdf2Params;
      const derived = wasmHasher(p.digest) ? await wasmPbkdf2InWorker(p, pw) : await pbkdf2(pw, p.salt, p.iterations, p.keylen, p.digest);
      return sameBytes(derived, p.hash);
    }
    case 'hmac': {
      const key = decodeBytes(h.hash.key!.value, h.hash.key!.encoding ?? 'utf8')!;
      const expected = decodeBytes(h.hash.value, h.hash.encoding as Encoding)!;
      return sameBytes(await hmacOf(h.hash.digest!, key, saltedMessage(h, pw)), expected);
    }
    case 'scrypt': {
      const salt = decodeBytes(h.salt!.value, h.salt!.encoding ?? 'utf8')!;
      const { N, r, p } = scryptParams(h);
      const derived = await scrypt(pw, salt, h.keylen!, { N, r, p, maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024 });
      return sameBytes(derived, decodeBytes(h.hash.value, h.hash.encoding as Encoding)!);
    }
    default: {
      const expected = decodeBytes(h.hash.value, h.hash.encoding as Encoding)!;
      return sameBytes(await digestOf(h.algorithm, saltedMessage(h, pw)), expected);
    }
  }
}
