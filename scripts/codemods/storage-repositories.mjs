#!/usr/bin/env node
// Rewrites calls of the flat Storage methods (`storage.getUser(id)`) into calls on the repository
// that now owns them (`storage.users.get(id)`), and the old *Store type names into the repository
// interfaces. Deterministic and idempotent: no new name matches an old one, so a second run changes
// nothing. Prints every file and line it changed.
//
//   node scripts/codemods/storage-repositories.mjs [--check] [dir-or-file ...]   (default: packages bench)
//
// Only `.name` after a dot is rewritten: method definitions inside classes (`async getUser(`) and
// free functions (`deleteUser(storage, id)`) are left alone. The old method names are specific
// enough that no other object in the tree has a method of the same name, save the auth0 SDK's
// (`management.users.listUsersByEmail`), whose receivers are recognised and skipped. The old
// narrow store types (`SigningKeyStore`) become `Pick<Storage, 'signingKeys'>`.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Old flat method -> [repository property, method]. */
export const METHODS = {
  // clients
  getClient: ['clients', 'get'],
  listClients: ['clients', 'list'],
  insertClient: ['clients', 'insert'],
  updateClient: ['clients', 'update'],
  deleteClient: ['clients', 'delete'],
  clientOriginExists: ['clients', 'originExists'],
  countRegisteredClients: ['clients', 'countRegistered'],
  // rate limits
  hitRateLimit: ['rateLimits', 'hit'],
  // resource servers
  getResourceServer: ['resourceServers', 'get'],
  getResourceServerByIdentifier: ['resourceServers', 'getByIdentifier'],
  listResourceServers: ['resourceServers', 'list'],
  insertResourceServer: ['resourceServers', 'insert'],
  updateResourceServer: ['resourceServers', 'update'],
  deleteResourceServer: ['resourceServers', 'delete'],
  // client grants
  getClientGrant: ['clientGrants', 'get'],
  findClientGrant: ['clientGrants', 'find'],
  listClientGrants: ['clientGrants', 'list'],
  insertClientGrant: ['clientGrants', 'insert'],
  updateClientGrant: ['clientGrants', 'update'],
  deleteClientGrant: ['clientGrants', 'delete'],
  deleteClientGrantsWhere: ['clientGrants', 'deleteWhere'],
  // connections
  getConnection: ['connections', 'get'],
  getConnectionByName: ['connections', 'getByName'],
  listConnections: ['connections', 'list'],
  insertConnection: ['connections', 'insert'],
  updateConnection: ['connections', 'update'],
  deleteConnection: ['connections', 'delete'],
  // users
  getUser: ['users', 'get'],
  findUserByEmail: ['users', 'findByEmail'],
  findUserByUsername: ['users', 'findByUsername'],
  listUsersByEmail: ['users', 'listByEmail'],
  listUsers: ['users', 'list'],
  insertUser: ['users', 'insert'],
  updateUser: ['users', 'update'],
  deleteUser: ['users', 'delete'],
  searchUsers: ['users', 'search'],
  // user permissions
  addUserPermissions: ['permissions', 'add'],
  removeUserPermissions: ['permissions', 'remove'],
  removeApiPermissions: ['permissions', 'removeForApi'],
  listUserPermissions: ['permissions', 'list'],
  // tenant
  getTenantSettings: ['tenant', 'get'],
  createTenantSettings: ['tenant', 'create'],
  putTenantSettings: ['tenant', 'put'],
  // signing keys
  listSigningKeys: ['signingKeys', 'list'],
  rotateSigningKey: ['signingKeys', 'rotate'],
  // login transactions
  putLoginTransaction: ['loginTransactions', 'put'],
  trimLoginTransactions: ['loginTransactions', 'trim'],
  getLoginTransaction: ['loginTransactions', 'get'],
  deleteLoginTransaction: ['loginTransactions', 'delete'],
  // sessions
  createSession: ['sessions', 'create'],
  getSession: ['sessions', 'get'],
  touchSession: ['sessions', 'touch'],
  endSession: ['sessions', 'end'],
  endSessionsOf: ['sessions', 'endAllOf'],
  // authorization codes
  insertAuthorizationCode: ['codes', 'insert'],
  getAuthorizationCode: ['codes', 'get'],
  claimAuthorizationCode: ['codes', 'claim'],
  markAuthorizationCodeReplayed: ['codes', 'markReplayed'],
  recordCodeTokens: ['codes', 'recordTokens'],
  // refresh tokens
  insertRefreshToken: ['refreshTokens', 'insert'],
  getRefreshToken: ['refreshTokens', 'get'],
  markRefreshTokenRotated: ['refreshTokens', 'markRotated'],
  extendRefreshToken: ['refreshTokens', 'extend'],
  revokeRefreshTokenFamily: ['refreshTokens', 'revokeFamily'],
  revokeRefreshTokensOf: ['refreshTokens', 'revokeAllOf'],
  // opaque access tokens
  insertOpaqueAccessToken: ['accessTokens', 'insert'],
  getOpaqueAccessToken: ['accessTokens', 'get'],
  deleteOpaqueAccessToken: ['accessTokens', 'delete'],
  deleteOpaqueAccessTokensOf: ['accessTokens', 'deleteAllOf'],
  // consents
  getConsent: ['consents', 'get'],
  putConsent: ['consents', 'put'],
  listConsents: ['consents', 'list'],
  deleteConsents: ['consents', 'deleteAllOf'],
  deleteConsent: ['consents', 'delete'],
  // login throttles
  recordLoginFailure: ['throttles', 'recordFailure'],
  getLoginThrottle: ['throttles', 'get'],
  lockLogin: ['throttles', 'lock'],
  clearLoginThrottle: ['throttles', 'clear'],
  forgiveLoginFailure: ['throttles', 'forgiveFailure'],
  // device codes
  insertDeviceCode: ['deviceCodes', 'insert'],
  getDeviceCode: ['deviceCodes', 'get'],
  findDeviceCodeByUserCode: ['deviceCodes', 'findByUserCode'],
  decideDeviceCode: ['deviceCodes', 'decide'],
  recordDevicePoll: ['deviceCodes', 'recordPoll'],
  consumeDeviceCode: ['deviceCodes', 'consume'],
  // registration access tokens (RFC 7592)
  putRegistrationTokenDigest: ['registrations', 'putTokenDigest'],
  getRegistrationTokenDigest: ['registrations', 'getTokenDigest'],
  deleteRegistrationToken: ['registrations', 'delete'],
};

/** Old narrow store types -> the repositories they became, as `Pick<Storage, ...>`. */
export const TYPES = {
  ClientStore: ['clients'],
  RateLimitStore: ['rateLimits'],
  ResourceServerStore: ['resourceServers'],
  ClientGrantStore: ['clientGrants'],
  ConnectionStore: ['connections'],
  UserStore: ['users'],
  TenantStore: ['tenant'],
  SigningKeyStore: ['signingKeys'],
  SignInStore: ['loginTransactions', 'sessions', 'codes', 'refreshTokens', 'accessTokens', 'consents', 'throttles'],
  DeviceCodeStore: ['deviceCodes'],
  ClientRegistrationStore: ['registrations'],
  UserPermissionStore: ['permissions'],
};

const names = Object.keys(METHODS).join('|');
// `x.getUser.bind(x)`: the method now lives on `x.users`, and must be bound to it.
const bindPattern = new RegExp(`([\\w$][\\w$.]*)\\.(${names})\\.bind\\(\\s*\\1\\s*\\)`, 'g');
// Any property access: calls, `.bind`, and `storage.getUser = ...` in tests that patch a method.
const methodPattern = new RegExp(`\\.(${names})\\b`, 'g');
// `Pick<Storage, 'getUser' | 'updateUser'>`: the quoted names become the repository names.
const pickPattern = new RegExp(`'(${names})'`, 'g');
const typeNames = Object.keys(TYPES).join('|');
const importPattern = new RegExp(
  `import type \\{([^}]*\\b(?:${typeNames})\\b[^}]*)\\}(\\s*from\\s*'[^']*storage/(?:types|index)\\.js')`,
  'g',
);
const typePattern = new RegExp(`\\b(${typeNames})\\b`, 'g');
// The auth0 SDK has methods of the same names (`management.users.listUsersByEmail`): never rewritten.
const SDK_RECEIVER = /\b(management|managementClient|mgmt|auth0)(\.[\w$]+)*$/;

export function transform(text) {
  let out = text.replace(bindPattern, (_, receiver, name) => {
    const [repo, method] = METHODS[name];
    return `${receiver}.${repo}.${method}.bind(${receiver}.${repo})`;
  });
  out = out.replace(methodPattern, (whole, name, offset, all) => {
    if (SDK_RECEIVER.test(all.slice(Math.max(0, offset - 80), offset))) return whole;
    return `.${METHODS[name][0]}.${METHODS[name][1]}`;
  });
  out = out.replace(/(Pick|Omit)<\s*Storage\s*,([^>]*)>/g, (whole, kind, picked) => {
    const replaced = picked.replace(pickPattern, (_, name) => `'${METHODS[name][0]}'`);
    // The same repository named twice after the rewrite: keep it once.
    const unique = [
      ...new Set(
        replaced
          .split('|')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ].join(' | ');
    return replaced === picked ? whole : `${kind}<Storage, ${unique}>`;
  });
  out = out.replace(importPattern, (_, list, from) => {
    const kept = [
      ...new Set(
        list
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => (TYPES[s] ? 'Storage' : s)),
      ),
    ];
    return `import type { ${kept.join(', ')} }${from}`;
  });
  out = out.replace(typePattern, (name) => `Pick<Storage, ${TYPES[name].map((r) => `'${r}'`).join(' | ')}>`);
  // The two-file class became storage/kysely/ (one file per repository, composed in index.ts).
  out = out.replace(/storage\/kysely-(storage|sign-in)\.js'/g, "storage/kysely/index.js'");
  out = out.replace(/\bKyselySignInStorage\b/g, 'KyselyStorage');
  return out;
}

function* tsFiles(path) {
  const stat = statSync(path);
  if (stat.isFile()) {
    if (path.endsWith('.ts')) yield path;
    return;
  }
  for (const entry of readdirSync(path).sort()) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    yield* tsFiles(join(path, entry));
  }
}

// The repository implementations themselves define these names and are never rewritten.
const SKIP = /(^|\/)storage\/(kysely\/|kysely-storage\.ts|kysely-sign-in\.ts|types\.ts)/;

function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const roots = args.filter((a) => a !== '--check');
  let files = 0;
  let lines = 0;
  for (const root of roots.length > 0 ? roots : ['packages', 'bench']) {
    for (const file of tsFiles(root)) {
      if (SKIP.test(file)) continue;
      const before = readFileSync(file, 'utf8');
      const after = transform(before);
      if (after === before) continue;
      files += 1;
      const a = before.split('\n');
      const b = after.split('\n');
      for (let i = 0; i < a.length; i++) {
        if (a[i] === b[i]) continue;
        lines += 1;
        console.log(`${relative(process.cwd(), file)}:${i + 1}\n  - ${a[i].trim()}\n  + ${b[i].trim()}`);
      }
      if (!check) writeFileSync(file, after);
    }
  }
  console.log(`${check ? 'would change' : 'changed'} ${lines} line(s) in ${files} file(s)`);
  if (check && files > 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) main();
