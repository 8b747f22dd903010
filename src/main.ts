/**
 * The service on the configuration of the environment
 * (docs/configuration.md); every default is embedded, so nothing needs setting.
 * The first SIGTERM or SIGINT stops it cleanly (a drain); repeats within
 * FORCE_AFTER_MS are ignored, a later one forces the stop.
 *
 * Run by src/start.ts (`node dist/start.js`), from the bundle npm run build
 * makes, or as a module where there is none.
 */
import { channel } from 'node:diagnostics_channel';
import { setFlagsFromString } from 'node:v8';
import { runMain } from './cli/common.ts';
import { flagsOnceListening } from './cli/v8-flags.ts';
import { loadConfig } from './config/config.ts';
import { LISTENING_CHANNEL } from './runtime/listening.ts';
import { createService } from './service.ts';
import { redactedSmtpUrl } from './transport/smtp.ts';

async function main(): Promise<number> {
  const config = loadConfig();
  const service = await createService(config);
  let address: string;
  try {
    address = await service.app.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    await service.stop();
    throw listenError(error as NodeJS.ErrnoException, config.http.host, config.http.port);
  }
  service.logger.info(
    { address, smtp: redactedSmtpUrl(config.smtp.url), dataDir: config.dataDir, auth: Boolean(config.http.apiToken) },
    `invite-mailer listening on ${address}`,
  );
  channel(LISTENING_CHANNEL).publish({ address });
  // After the publish: start.ts has written the code cache under the flags the next start will have.
  for (const flag of flagsOnceListening(process.execArgv)) setFlagsFromString(flag);
  const forced = await new Promise<boolean>((resolve) => {
    let stoppingSince: number | null = null;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stoppingSince === null) {
        stoppingSince = Date.now();
        service.logger.info({ signal }, 'stopping: no new requests; the messages on the wire finish, the rest go back to the outbox');
        service.stop().then(
          () => resolve(false),
          (error: unknown) => {
            service.logger.error({ err: error }, 'stopping failed');
            resolve(false);
          },
        );
        return;
      }
      const sinceMs = Date.now() - stoppingSince;
      if (sinceMs < FORCE_AFTER_MS) {
        service.logger.info({ signal, sinceMs }, 'already stopping: this signal is ignored (one Ctrl-C or systemd stop reaches the service more than once)');
        return;
      }
      service.logger.warn({ signal, sinceMs }, 'a second signal while stopping: stopping now; messages on the wire go out again after the next start');
      resolve(true);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // Forced: what is still draining (sockets on the wire, the outbox) would hold the process.
  if (forced) process.exit(1);
  service.logger.info('stopped');
  return 0;
}

/** Why the API cannot listen, in words that name the setting. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const why =
    error.code === 'EADDRINUSE'
      ? `PORT ${port} on ${host} is in use by another process: stop it, or set PORT to a free port`
      : error.code === 'EACCES'
        ? `PORT ${port} on ${host} needs privileges this user does not have: set PORT above 1023 (and put a proxy in front), or run as a user that may bind it`
        : error.code === 'EADDRNOTAVAIL'
          ? `HOST ${host} is not an address of this machine: set HOST to one of its addresses (127.0.0.1, 0.0.0.0)`
          : `cannot listen on ${host}:${port} (${error.code ?? error.message}): check HOST and PORT`;
  return Object.assign(new Error(why), { code: 'ELISTEN' });
}

/**
 * A signal this long after the first forces the stop; earlier ones are
 * ignored. Ctrl-C in a terminal reaches node twice (from the terminal, to the
 * whole process group, and from npm, which passes it on), and so does
 * systemd's stop with its default KillMode=control-group: those repeats come
 * within milliseconds. A person who presses Ctrl-C again, later, means it.
 */
const FORCE_AFTER_MS = 5000;

runMain(main);
