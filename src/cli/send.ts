/**
 * npm run send -- <request.json>
 *
 * Renders the request and sends each recipient's message through SMTP_URL
 * (Mailpit's smtp://localhost:1025 by default), one line per recipient:
 * accepted with the relay's reply, or rejected with it. Exit code 1 when
 * any recipient was not accepted.
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
  const messages = await messagesOfRequestFile(config, positionals[0]!);
  const transport = createSmtpTransport(config.smtp);
  let failures = 0;
  try {
    for (const { email, message } of messages) {
      const { verdict, reply } = await transport.send(message);
      if (verdict === 'accepted') {
        console.log(`accepted\t${email.to.email}\t${message.messageId}\t${reply.response}`);
      } else {
        failures++;
        console.log(`rejected\t${email.to.email}\t${verdict}\t${reply.response ?? `${reply.code}: ${reply.message}`}`);
      }
    }
  } finally {
    transport.close();
  }
  return failures ? 1 : 0;
}

runMain(main);
