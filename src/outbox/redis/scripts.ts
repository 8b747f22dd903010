/**
 * The Redis outbox's Lua scripts, each a file in scripts/ named as BullMQ
 * names its own (`<name>-<number of keys>.lua`), each taking its arguments as
 * JSON. Loaded once, run by ioredis with EVALSHA (EVAL when Redis does not
 * have it yet).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const SCRIPTS = new URL('./scripts/', import.meta.url);

/** The scripts this folder holds, by name, with their number of keys. */
function scriptFiles(): { name: string; numberOfKeys: number; lua: string }[] {
  return readdirSync(SCRIPTS)
    .filter((file) => file.endsWith('.lua'))
    .map((file) => {
      const [, name, keys] = /^(.+)-(\d+)\.lua$/.exec(file)!;
      return { name: name!, numberOfKeys: Number(keys), lua: readFileSync(new URL(file, SCRIPTS), 'utf8') };
    });
}

/** What the scripts answer (see each file). */
export interface Scripts {
  transitions(header: string, ...changes: string[]): Promise<(number | string)[]>;
  contexts(args: string): Promise<string[][]>;
  forgetPending(key: string, marker: string): Promise<number>;
  claimEvents(due: string, list: string, attempts: string, args: string): Promise<[number, ...string[]] | null>;
  settleEvents(due: string, list: string, attempts: string, args: string): Promise<number>;
  removeNotification(args: string): Promise<(string | number)[] | null>;
  eventBacklog(due: string, args: string): Promise<[number, string | null]>;
  deliveryBacklog(prioritized: string, wait: string, delayed: string, args: string): Promise<[number, number | null]>;
}

/**
 * Defines every script on a connection: `scripts.transitions(…)` and so on.
 *
 * @example const scripts = defineScripts(commands); await scripts.forgetPending(key, marker);
 */
export function defineScripts(connection: Redis): Scripts {
  for (const script of scriptFiles()) {
    const name = script.name.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
    connection.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  return connection as unknown as Scripts;
}
