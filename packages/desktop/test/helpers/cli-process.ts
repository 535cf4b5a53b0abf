import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
/** The command users run (`npx latchkey-cli`): examples/cli's package.json `bin`. */
export const CLI_BIN = fileURLToPath(new URL('../../../../examples/cli/bin/latchkey-cli.js', import.meta.url));

export interface CliRun {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the first stdout line that matches. */
  line(pattern: RegExp): Promise<string>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The CLI example as a user runs it: a new Node process each time, sharing only the token store. */
export function runCli(args: string[], env: Record<string, string>): CliRun {
  const child = spawn(CLI_BIN, args, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of [...waiters]) {
      const found = stdout.split('\n').find((l) => waiter.pattern.test(l));
      if (found !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(found);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    exit,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const found = stdout.split('\n').find((l) => pattern.test(l));
        if (found !== undefined) return resolve(found);
        waiters.push({ pattern, resolve });
        void exit.then(({ code }) => reject(new Error(`CLI exited (${code}) before printing ${pattern}:\n${stdout}\n${stderr}`)));
      }),
  };
}
