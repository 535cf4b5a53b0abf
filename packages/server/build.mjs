// Builds dist/ as three entry points: the CLI, the app (the package's main) and the sandbox worker.
// A few bundled files load far faster than ~900 modules (start-up time), and take less memory; the
// code the CLI and the app share is one chunk, not two copies in the published package. Packages
// with native addons or WebAssembly files stay external and load from node_modules.

import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts', 'src/app.ts', 'src/connections/sandbox/profile-script-worker.ts'],
  entryNames: '[name]',
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  // Chunks sit next to the entry points: the worker is found relative to the module that spawns it.
  chunkNames: '[name]-[hash]',
  target: 'node20',
  // Maps give `node --enable-source-maps` file and line; the sources themselves are not shipped.
  sourcemap: true,
  sourcesContent: false,
  external: [
    'better-sqlite3',
    'pg-native',
    '@node-rs/argon2',
    '@node-rs/bcrypt',
    'quickjs-emscripten',
    'quickjs-emscripten-core',
    '@jitl/*',
  ],
  // Bundled CommonJS packages call require(); ESM output has none unless given one.
  banner: { js: "import { createRequire as __latchkeyRequire } from 'node:module'; const require = __latchkeyRequire(import.meta.url);" },
  logLevel: 'warning',
});
