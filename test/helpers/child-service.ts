import { type ChildProcess, spawn } from 'node:child_process';
import { ROOT, startArgs } from './start-command.ts';

export interface ChildService {
  readonly process: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<number | string>;
}

/** `npm start`'s entry in a child process, as an operator runs it; resolves once it listens. */
export async function startChildService(env: Record<string, string>): Promise<ChildService> {
  return untilListening(spawnService(process.execPath, startArgs(), env));
}

/**
 * `npm start` itself (npm, its shell, then node), for what npm does with signals.
 * `group`: in a process group of its own, as a terminal runs it (signal it with `process.kill(-pid)`).
 */
export async function startWithNpm(env: Record<string, string>, options: { group?: boolean } = {}): Promise<ChildService> {
  return untilListening(spawnService('npm', ['start', '--silent'], env, options));
}

/** A service process that may never listen (a start that fails), with its output and exit. */
export function spawnService(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  options: { group?: boolean; cwd?: string } = {},
): Omit<ChildService, 'url'> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    detached: options.group ?? false,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { process: child, output: () => output, exited };
}

/** Resolves once a spawned service says it listens; rejects with its output if it exits first or takes over 20 s. */
export async function untilListening(started: Omit<ChildService, 'url'>): Promise<ChildService> {
  const { process: child, exited } = started;
  const output = started.output;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${output()}`)), 20_000);
    const look = () => {
      const match = /invite-mailer listening on (http:\/\/[^"\s]+)/.exec(output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', look);
    exited.then(() => reject(new Error(`the service exited:\n${output()}`)));
  });
  return { process: child, url, output, exited };
}
