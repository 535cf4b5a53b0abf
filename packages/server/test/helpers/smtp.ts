import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from './server.js';

/** A message as the test SMTP server received and mailparser parsed it. */
export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The SMTP AUTH user it was sent as, if any. */
  user: string | null;
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
  messageId: string;
}

const SCRIPT = fileURLToPath(new URL('./smtp-process.mjs', import.meta.url));

/**
 * A real SMTP server (smtp-server) in a child process on 127.0.0.1, which latchkey's email provider
 * can point at. `stop()` kills it (SMTP down) and `start()` brings it back on the same port.
 * Addresses starting with `rejected@` are refused with 550.
 */
export class TestSmtp {
  readonly received: ReceivedMail[] = [];
  private child: ChildProcess | undefined;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly port: number,
    readonly user?: string,
    readonly pass?: string,
  ) {}

  /** Starts a server; with `auth`, it requires that user and password. */
  static async start(options: { auth?: { user: string; pass: string } } = {}): Promise<TestSmtp> {
    const smtp = new TestSmtp(await freePort(), options.auth?.user, options.auth?.pass);
    await smtp.start();
    return smtp;
  }

  /** The `credentials` of an email provider that sends here. */
  credentials(): { smtp_host: string; smtp_port: number; smtp_user?: string; smtp_pass?: string } {
    return {
      smtp_host: '127.0.0.1',
      smtp_port: this.port,
      ...(this.user ? { smtp_user: this.user, smtp_pass: this.pass! } : {}),
    };
  }

  async start(): Promise<void> {
    if (this.child) return;
    const args = [SCRIPT, String(this.port), ...(this.user ? [this.user, this.pass!] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    let buffer = '';
    let listening: (() => void) | undefined;
    const ready = new Promise<void>((resolve) => {
      listening = resolve;
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const message = JSON.parse(line) as ReceivedMail | { listening: number };
        if ('listening' in message) listening?.();
        else {
          this.received.push(message);
          for (const wake of this.waiters.splice(0)) wake();
        }
      }
    });
    const exited = once(child, 'exit').then(() => {
      throw new Error('the test SMTP server exited before listening');
    });
    await Promise.race([ready, exited]);
  }

  /** Kills the server: connections are refused until `start()`. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** The first received mail that matches, waiting for it up to `timeoutMs`. */
  async waitFor(match: (mail: ReceivedMail) => boolean, timeoutMs = 30_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching mail within ${timeoutMs} ms (received ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Mails received for this address (envelope recipient, case-insensitive). */
  to(address: string): ReceivedMail[] {
    const wanted = address.toLowerCase();
    return this.received.filter((mail) => mail.envelope.to.some((to) => to.toLowerCase() === wanted));
  }
}
