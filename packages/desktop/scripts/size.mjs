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
let over = false;
for (const [label, { bytes, gzip }] of rows) {
  const flag = bytes > TARGET_BYTES ? `  over the ${kb(TARGET_BYTES)} target` : '';
  if (bytes > TARGET_BYTES && label.includes('external')) over = true;
  console.log(`${label.padEnd(22)} ${kb(bytes).padStart(9)} minified  ${kb(gzip).padStart(8)} gzip${flag}`);
}
// The target applies to the SDK's own code; jose is shared with whatever else the app verifies.
if (over) process.exitCode = 1;
