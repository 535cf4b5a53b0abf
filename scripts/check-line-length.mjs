#!/usr/bin/env node
// Lines over 140 characters in the tracked code files. Biome's formatter wraps code at 140 but leaves
// strings, template literals and comments as they are: those are split by hand, and this lists them.
// JSON is left out (a JSON string cannot be split), so are Markdown and the ignored fixtures.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 140;
const files = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.mts', '*.js', '*.mjs', '*.cjs', '*.html', '*.css'], {
  encoding: 'utf8',
})
  .split('\0')
  .filter((file) => file && !/(^|\/)test\/fixtures\//.test(file));

const long = [];
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // deleted in the work tree, not yet in the index
  }
  text.split('\n').forEach((line, i) => {
    if (line.length > MAX) long.push(`${file}:${i + 1}: ${line.length} characters`);
  });
}
if (long.length > 0) {
  console.error(`${long.join('\n')}\n${long.length} line(s) over ${MAX} characters: split the string, template or comment.`);
  process.exit(1);
}
console.log(`line length: ${files.length} files, no line over ${MAX} characters`);
