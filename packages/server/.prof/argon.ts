import { hashPassword, verifyPassword } from '../src/crypto/passwords.js';
const h = await hashPassword('x');
const rss = () => Math.round(process.memoryUsage().rss / 1e6);
console.log('start', rss());
for (let r = 0; r < 5; r++) {
  await Promise.all(Array.from({ length: 8 }, async () => { for (let i = 0; i < 10; i++) await verifyPassword('x', h); }));
  console.log('round', r, rss());
}
