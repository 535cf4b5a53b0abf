// A real SMTP server (smtp-server, from the nodemailer project) in its own process, for the mail
// tests: every message it accepts is parsed with mailparser and written to stdout as one JSON line.
// Started and stopped by test/helpers/smtp.ts; argv: port, and optionally user and password.
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const [port, user, pass] = process.argv.slice(2);

const server = new SMTPServer({
  // Plain SMTP: no STARTTLS offered (a test that needs it says so), AUTH allowed without TLS.
  disabledCommands: user ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
  allowInsecureAuth: true,
  authOptional: !user,
  logger: false,
  size: 1024 * 1024,
  onAuth(auth, _session, callback) {
    if (auth.username === user && auth.password === pass) return callback(null, { user: auth.username });
    return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
  },
  onRcptTo(address, _session, callback) {
    // A recipient this server refuses for good (550), to test permanent failures.
    if (address.address.startsWith('rejected@')) return callback(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
    return callback();
  },
  onData(stream, session, callback) {
    simpleParser(stream)
      .then((parsed) => {
        const headers = {};
        for (const [key, value] of parsed.headers) headers[key] = typeof value === 'string' ? value : JSON.stringify(value);
        const message = {
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          user: session.user ?? null,
          from: parsed.from ? parsed.from.text : '',
          to: parsed.to
            ? [parsed.to]
                .flat()
                .map((a) => a.text)
                .join(', ')
            : '',
          subject: parsed.subject ?? '',
          html: typeof parsed.html === 'string' ? parsed.html : '',
          text: parsed.text ?? '',
          headers,
          messageId: parsed.messageId ?? '',
        };
        process.stdout.write(`${JSON.stringify(message)}\n`);
        callback();
      })
      .catch(callback);
  },
});

server.on('error', (err) => process.stderr.write(`smtp server error: ${err.message}\n`));
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ listening: Number(port) })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
