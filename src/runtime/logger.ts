/**
 * The service's log: JSON lines (pino) for whatever collects them, or, for a
 * person at a terminal, pino-pretty's lines (time, level, message, then the
 * fields). LOG_FORMAT decides; `auto` (the default) is pretty when stdout is
 * a terminal and JSON otherwise (a pipe, a file, a container's log).
 */
import { type Logger, type LoggerOptions, pino } from 'pino';
import type { Config } from '../config/config.ts';

/**
 * @example const logger = await createLogger(loadConfig()); logger.info('hello')
 */
export async function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, stdoutIsTerminal = process.stdout.isTTY === true): Promise<Logger> {
  const options: LoggerOptions = { level: config.logLevel, base: { service: 'invite-mailer' } };
  if (config.logFormat === 'json' || (config.logFormat === 'auto' && !stdoutIsTerminal)) return pino(options);
  // Loaded only for a person's terminal: production never pays for it.
  const { default: pretty } = await import('pino-pretty');
  // In this thread and synchronous (no transport worker): a terminal's rate of lines is a person's.
  return pino(options, pretty({ sync: true, colorize: stdoutIsTerminal, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
}
