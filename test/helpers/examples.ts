import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The project's copy of the backend's example payloads (examples/*.json). */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url));

export const EXAMPLE_NAMES = readdirSync(EXAMPLES_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, ''))
  .sort();

/** A fresh, mutable copy of an example payload. */
export function example(name: string): any {
  return JSON.parse(readFileSync(`${EXAMPLES_DIR}${name}.json`, 'utf8'));
}

/** The same payload with every recipient reading it in `locale`. */
export function exampleIn(name: string, locale: string): any {
  const payload = example(name);
  for (const recipient of payload.recipients ?? []) recipient.locale = locale;
  return payload;
}
