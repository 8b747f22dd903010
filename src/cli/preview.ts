/**
 * npm run preview -- [--port 4000] [--host 127.0.0.1] [--allow-remote]
 *
 * Serves the preview of every example in every language on
 * http://127.0.0.1:<port>, updated on every save under templates/ and
 * locales/. "Send to Mailpit" sends through SMTP_URL (default
 * smtp://localhost:1025). It listens on loopback; another --host needs
 * --allow-remote, as anyone who reaches it can make it send mail.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startPreview } from '../preview/server.ts';
import { loadConfig, runMain, UsageError } from './common.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const USAGE = 'usage: npm run preview -- [--port 4000] [--host 127.0.0.1] [--allow-remote]';

async function main(args: string[]): Promise<number> {
  let values: { port: string; host: string; 'allow-remote': boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '4000' },
        host: { type: 'string', default: '127.0.0.1' },
        'allow-remote': { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535\n${USAGE}`);
  const config = loadConfig();
  const preview = await startPreview({
    port,
    host: values.host,
    allowRemote: values['allow-remote'],
    templatesDir: `${ROOT}templates`,
    localesDir: `${ROOT}locales`,
    examplesDir: `${ROOT}examples`,
    smtpUrl: config.smtp.url,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') throw new UsageError(`port ${port} is in use by another process: stop it, or choose another with --port`);
    if (/is not loopback/.test(error.message)) throw new UsageError(error.message);
    throw error;
  });
  console.log(`preview on ${preview.url} (watching templates/ and locales/; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await preview.close();
  return 0;
}

runMain(main);
