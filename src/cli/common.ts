/**
 * What the command-line tools share: configuration from the environment,
 * a request read from a file, the renderer made from both.
 */
import { readFile } from 'node:fs/promises';
import { DateTime } from 'luxon';
import { type Config, loadConfig } from '../config/config.ts';
import { messageOptionsOf, rendererFor } from '../config/parts.ts';
import { composeMessage, type OutgoingMessage } from '../message/compose.ts';
import { InvalidRequestError } from '../model/errors.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import type { NotificationRequest } from '../model/schema.ts';
import type { RenderedEmail } from '../render/renderer.ts';

/** Reads and validates a request file; a broken one is reported field by field. */
export async function readRequestFile(path: string): Promise<NotificationRequest> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${path}: ${(error as Error).message}`);
  }
  try {
    return parseNotificationRequest(json);
  } catch (error) {
    if (error instanceof InvalidRequestError) {
      throw new UsageError(`${path} breaks the contract:\n${error.issues.map((i) => `  ${i.path || 'request'}: ${i.message}`).join('\n')}`);
    }
    throw error;
  }
}

/**
 * What `render` and `send` share: the request file read and validated, each
 * recipient's email rendered and composed as the service would, now.
 *
 * @example for (const { email, message } of (await messagesOfRequestFile(config, 'examples/cancellation.json'))) …
 */
export async function messagesOfRequestFile(config: Config, path: string): Promise<{ email: RenderedEmail; message: OutgoingMessage }[]> {
  const request = await readRequestFile(path);
  const renderer = await rendererFor(config);
  const stamp = DateTime.utc();
  const messages = [];
  for (const email of renderer.render(request, { stamp })) {
    messages.push({ email, message: await composeMessage(request, email, { ...messageOptionsOf(config), date: stamp.toJSDate() }) });
  }
  return messages;
}

/** A mistake of the person at the terminal: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Errors whose message names the setting and what to do: printed as one line
 * without a stack, exit code 1 (a configuration that does not validate, 2).
 */
const ACTIONABLE_CODES = new Set(['EDATADIR', 'ELISTEN']);

/** Runs a command's main, printing errors as a person wants to read them. */
export function runMain(main: (args: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const code = (error as { code?: string }).code ?? '';
      if (error instanceof UsageError || code === 'CONFIG_INVALID') {
        console.error((error as Error).message);
        process.exitCode = 2;
      } else if (ACTIONABLE_CODES.has(code)) {
        console.error(`invite-mailer: ${(error as Error).message}`);
        process.exitCode = 1;
      } else {
        console.error(error);
        process.exitCode = 1;
      }
      // A failed start must end the process, even if something it opened still holds the event loop.
      setTimeout(() => process.exit(), 2000).unref();
    },
  );
}

export { loadConfig };
