/**
 * A minimal pipelined SMTP client (RFC 2920): the fastest the sink can take
 * the same bytes, as the physical reference for the service's throughput.
 * Not for production: no TLS, no auth, no error handling beyond counting.
 */
import { connect, type Socket } from 'node:net';

export interface RawMessage {
  readonly from: string;
  readonly to: string;
  readonly raw: Buffer;
}

/** Sends every message over `connections` sockets, pipelining each message's commands; resolves when all got their final 250. */
export async function sendRaw(port: number, messages: readonly RawMessage[], connections: number): Promise<void> {
  const lanes: RawMessage[][] = Array.from({ length: connections }, () => []);
  messages.forEach((m, i) => {
    lanes[i % connections]!.push(m);
  });
  await Promise.all(lanes.map((lane) => lane.length && sendLane(port, lane)));
}

async function sendLane(port: number, lane: readonly RawMessage[]): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const replies = replyReader(socket);
  await replies.next(); // greeting
  socket.write('EHLO bench.localhost\r\n');
  await replies.next();
  for (const message of lane) {
    socket.write(`MAIL FROM:<${message.from}>\r\nRCPT TO:<${message.to}>\r\nDATA\r\n`);
    await replies.next();
    await replies.next();
    await replies.next(); // 354
    const body = message.raw.toString('latin1').replace(/\r\n\./g, '\r\n..');
    socket.write(Buffer.from(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    await replies.next(); // 250 queued
  }
  socket.end('QUIT\r\n');
}

/**
 * Yields each complete SMTP reply (the last line of a multi-line one). A reset
 * connection fails the reply waited for (the sink resets connections it is
 * done with: after QUIT that is no failure, and nothing waits any more).
 */
function replyReader(socket: Socket) {
  let buffer = '';
  let failure: Error | null = null;
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  const ready: string[] = [];
  socket.on('data', (chunk) => {
    buffer += chunk.toString('latin1');
    for (let index = buffer.indexOf('\r\n'); index >= 0; index = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, index);
      buffer = buffer.slice(index + 2);
      if (line[3] === '-') continue;
      const next = waiting.shift();
      if (next) next.resolve(line);
      else ready.push(line);
    }
  });
  socket.on('error', (error) => {
    failure = error;
    for (const next of waiting.splice(0)) next.reject(error);
  });
  return {
    next(): Promise<string> {
      const line = ready.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}
