/**
 * npm run render -- <request.json> [--out <dir>]
 *
 * Writes, per recipient, <email>.html, <email>.txt and <email>.eml (the
 * whole message with its calendar invite, as it would be sent) into the
 * folder (default ./out), and prints one line per recipient.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, messagesOfRequestFile, runMain, UsageError } from './common.ts';

const USAGE = 'usage: npm run render -- <request.json> [--out <dir>]';

async function main(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string', default: 'out' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(USAGE);
  const messages = await messagesOfRequestFile(loadConfig(), positionals[0]!);
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  for (const { email, message } of messages) {
    const base = join(out, safeFileName(email.to.email));
    await writeFile(`${base}.html`, email.html);
    await writeFile(`${base}.txt`, email.text);
    await writeFile(`${base}.eml`, message.raw);
    console.log(`${email.to.email}\t${email.locale}\t${email.timeZone}\t${email.subject}\t${base}.{html,txt,eml}`);
  }
  return 0;
}

/** An address as a file name: kept readable, nothing that climbs out of the folder. */
function safeFileName(address: string): string {
  return address.replace(/[^A-Za-z0-9@._+-]/g, '_').replace(/^\.+/, '_');
}

runMain(main);
