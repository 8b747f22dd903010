import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './start-command.ts';

/** One instruction of a Dockerfile: `COPY --from=build /app/dist ./dist` is { keyword: 'COPY', flags: { from: 'build' }, args: '/app/dist ./dist' }. */
export interface Instruction {
  readonly keyword: string;
  readonly flags: Readonly<Record<string, string>>;
  readonly args: string;
}

export interface Stage {
  readonly name: string | null;
  readonly image: string;
  readonly instructions: readonly Instruction[];
}

/**
 * The project's Dockerfile as stages of instructions: line continuations
 * joined, comments and parser directives left out. Enough of the format for
 * the tests that run its steps and compare it with the docs; not a general parser.
 *
 * @example dockerfileStages().at(-1)!.instructions.find((i) => i.keyword === 'CMD') // { keyword: 'CMD', args: '["node", "dist/start.js"]', … }
 */
export function dockerfileStages(text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')): Stage[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: { name: string | null; image: string; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    let args = rest;
    const flags: Record<string, string> = {};
    for (let flag = /^--([\w-]+)=(\S+)\s+/.exec(args); flag; flag = /^--([\w-]+)=(\S+)\s+/.exec(args)) {
      flags[flag[1]!] = flag[2]!;
      args = args.slice(flag[0].length);
    }
    if (keyword.toUpperCase() === 'FROM') {
      const [, image = '', name = null] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ name, image, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), flags, args });
  }
  return stages;
}

/** `ENV A=1 B=2` instructions of a stage, together. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) env[key!] = value!;
  }
  return env;
}

/** The exec form (a JSON array) of the stage's CMD. */
export function commandOf(stage: Stage): string[] {
  const cmd = stage.instructions.findLast((i) => i.keyword === 'CMD');
  if (!cmd) throw new Error('the stage has no CMD');
  return JSON.parse(cmd.args) as string[];
}
