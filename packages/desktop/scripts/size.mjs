// Bundle size of the runtime-agnostic core (src/index.ts, no adapters), minified by esbuild.
// Printed twice: with jose left external (apps that already ship it) and with jose bundled in.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const TARGET_BYTES = 25 * 1024;

async function measure(external) {
  const result = await build({
    entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { bytes: code.length, gzip: gzipSync(code).length };
}

const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
const rows = [
  ['core, jose external', await measure(['jose'])],
  ['core, jose included', await measure([])],
];
for (const [label, { bytes, gzip }] of rows) {
  console.log(`${label.padEnd(22)} ${kb(bytes).padStart(9)} minified  ${kb(gzip).padStart(8)} gzip`);
}
// The target is for the SDK's own code; jose is shared with whatever else the app verifies.
const own = rows[0][1].bytes;
console.log(`target: core with jose external under ${kb(TARGET_BYTES)}: ${own <= TARGET_BYTES ? 'met' : 'MISSED'}`);
if (own > TARGET_BYTES) process.exitCode = 1;
