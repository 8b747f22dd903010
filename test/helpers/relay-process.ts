import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * The relay's side, in a process of its own: a listener that greets every
 * connection and answers 250 to whatever follows (221 to QUIT), and tells
 * when it accepted each connection. Being another process, it accepts while
 * the test's own event loop is held up, which an in-process sink cannot show.
 */
const RELAY = `
const { createServer } = require('node:net');
const server = createServer((socket) => {
  console.log(JSON.stringify({ connectedAt: Date.now() }));
  socket.write('220 relay ESMTP\\r\\n');
  socket.on('error', () => undefined);
  socket.on('data', (data) => {
    for (const line of String(data).split('\\r\\n').filter(Boolean)) socket.write(/^QUIT/i.test(line) ? '221 bye\\r\\n' : '250 relay\\r\\n');
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

export interface RelayProcess {
  readonly url: string;
  /** `Date.now()` in the relay's process at each connection it accepted, in order. */
  readonly connectedAt: readonly number[];
  stop(): Promise<void>;
}

/** @example const relay = await startRelayProcess(); … relay.connectedAt[0]; await relay.stop(); */
export async function startRelayProcess(): Promise<RelayProcess> {
  const child: ChildProcess = spawn(process.execPath, ['-e', RELAY], { stdio: ['ignore', 'pipe', 'inherit'] });
  const connectedAt: number[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the relay process exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const said = JSON.parse(line) as { port?: number; connectedAt?: number };
      if (said.port) resolve(said.port);
      if (said.connectedAt) connectedAt.push(said.connectedAt);
    });
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    connectedAt,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
