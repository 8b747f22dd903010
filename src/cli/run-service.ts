/**
 * The service on the configuration of the environment (README,
 * "Configuration"); every default is embedded, so nothing needs setting.
 * SIGTERM or SIGINT stops it cleanly. Started by start.cjs (npm start), bundled or
 * from the sources.
 */
import { channel } from 'node:diagnostics_channel';
import { setFlagsFromString } from 'node:v8';
import { loadConfig } from '../config/config.ts';
import { createService } from '../service.ts';
import { redactedSmtpUrl } from '../transport/smtp.ts';
import { runMain } from './common.ts';
import { LISTENING_CHANNEL } from './listening.cjs';
import { flagsOnceListening } from './v8-flags.ts';

async function main(): Promise<number> {
  const config = loadConfig();
  const service = await createService(config);
  const address = await service.app.listen({ host: config.http.host, port: config.http.port });
  service.logger.info(
    { address, smtp: redactedSmtpUrl(config.smtp.url), dataDir: config.dataDir, auth: Boolean(config.http.apiToken) },
    `invite-mailer listening on ${address}`,
  );
  channel(LISTENING_CHANNEL).publish({ address });
  // After the publish: run-bundle.cjs has written the code cache under the flags the next start will have.
  for (const flag of flagsOnceListening(process.execArgv)) setFlagsFromString(flag);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      service.logger.info({ signal }, 'stopping');
      service.stop().then(resolve, (error: unknown) => {
        service.logger.error({ err: error }, 'stopping failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  service.logger.info('stopped');
  return 0;
}

runMain(main);
