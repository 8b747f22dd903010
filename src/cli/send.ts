/**
 * npm run send -- <request.json>
 *
 * Renders the request and sends each recipient's message through SMTP_URL
 * (Mailpit's smtp://localhost:1025 by default), one line per recipient:
 * accepted with the relay's reply, or rejected with it; then a summary on
 * stderr (`1600 accepted, 0 rejected in 6.1 s`), and on a terminal a progress
 * line while it works. Exit code 1 when any recipient was not accepted.
 */
import { parseArgs } from 'node:util';
import { createSmtpTransport } from '../transport/smtp.ts';
import { loadConfig, messagesOfRequestFile, runMain, UsageError } from './common.ts';

const USAGE = 'usage: npm run send -- <request.json>   (sends through SMTP_URL, default smtp://localhost:1025)';

async function main(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(USAGE);
  const config = loadConfig();
  const started = performance.now();
  const progress = terminalProgress();
  progress.say('rendering…');
  const messages = await messagesOfRequestFile(config, positionals[0]!);
  const transport = createSmtpTransport(config.smtp);
  let failures = 0;
  try {
    for (const [index, { email, message }] of messages.entries()) {
      progress.say(`sending ${index + 1} of ${messages.length}…`);
      const { verdict, reply } = await transport.send(message);
      progress.done(); // the result line takes its place
      if (verdict === 'accepted') {
        console.log(`accepted\t${email.to.email}\t${message.messageId}\t${reply.response}`);
      } else {
        failures++;
        console.log(`rejected\t${email.to.email}\t${verdict}\t${reply.response ?? `${reply.code}: ${reply.message}`}`);
      }
    }
  } finally {
    transport.close();
    progress.done();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(`${messages.length - failures} accepted, ${failures} rejected in ${seconds} s`);
  return failures ? 1 : 0;
}

/**
 * A progress line on stderr, rewritten in place at most ten times a second,
 * when stderr is a terminal (never in a pipe or a log: there, only the summary).
 */
function terminalProgress() {
  const shown = process.stderr.isTTY;
  let last = 0;
  return {
    say(text: string) {
      const now = performance.now();
      if (!shown || now - last < 100) return;
      // Shown at most ten times a second: 1600 lines of results are printed faster than a terminal redraws.
      last = now;
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    /** Clears the line, so that what is printed next starts at its beginning. */
    done() {
      if (shown && last > 0) process.stderr.write('\r\x1b[2K');
    },
  };
}

runMain(main);
