#!/usr/bin/env node
// `npx latchkey-cli ...` (npm links it at install): runs the TypeScript sources with tsx and the
// SDK's source condition, and hands back the exit code as it is, without npm's "Lifecycle script
// failed" block that `npm start` prints around every failure.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// Ctrl-C reaches both processes; the CLI handles it (exit 130), this wrapper just waits for it.
process.on('SIGINT', () => {});
const { status, signal, error } = spawnSync(
  process.execPath,
  ['--conditions=latchkey-source', '--import', import.meta.resolve('tsx'), main, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
if (error) console.error(`latchkey-cli: ${error.message}`);
process.exit(status ?? (signal === 'SIGINT' ? 130 : 1));
