import { readFileSync } from 'node:fs';

/**
 * The package's version, read from its package.json at run time: the source (src/) and the bundle
 * (dist/) both sit one directory below it, in the repository and in an installed package alike.
 */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof manifest.version !== 'string') throw new Error('latchkey: package.json has no version');
  return manifest.version;
}
