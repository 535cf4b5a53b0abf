import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../src/storage/index.js';
import type { UserRecord } from '../src/domain/types.js';
const url = process.argv[2] === 'pg' ? `postgres://postgres@127.0.0.1:5432/test?schema=${process.env.PROF_SCHEMA ?? `prof_${Date.now()}`}` : `sqlite:${join(mkdtempSync(join(tmpdir(), 'prof-')), 'db.sqlite')}`;
const storage = await openStorage(url);
await storage.migrate();
const N = Number(process.argv[3] ?? 50000);
const at = new Date().toISOString();
const rec = (i: number): UserRecord => ({
  connection: 'Username-Password-Authentication',
  passwordHash: '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
  user: {
    user_id: `auth0|${(i * 2654435761 % 4294967296).toString(16)}${i}`,
    email: `user${(i * 7919) % 1000003}.${i}@example${i % 50}.com`, email_verified: true,
    name: `First${i % 300} Last${i % 1000}`, nickname: `nick${i}`, given_name: `First${i % 300}`, family_name: `Last${i % 1000}`,
    identities: [{ connection: 'Username-Password-Authentication', user_id: String(i), provider: 'auth0', isSocial: false }],
    app_metadata: { plan: ['free', 'pro', 'team'][i % 3], roles: ['a', 'b'] }, user_metadata: { lang: 'en', theme: 'dark' },
    created_at: new Date(Date.parse(at) + i).toISOString(), updated_at: at, logins_count: 0, blocked: false,
  } as any,
});
const t0 = performance.now();
for (let i = 0; i < N; i += 5000) {
  await storage.transaction(async (tx) => {
    for (let j = i; j < Math.min(N, i + 5000); j += 1000) {
      const recs = []; for (let k = j; k < Math.min(N, j + 1000); k++) recs.push(rec(k));
      await tx.users.insertMany(recs);
    }
  });
}
const s = (performance.now() - t0) / 1000;
console.log(`${process.argv[2]} ${N} users in ${s.toFixed(1)} s = ${(N / s).toFixed(0)}/s; cpu ${(process.cpuUsage().user / 1e6).toFixed(1)} s user`);
await storage.close();
