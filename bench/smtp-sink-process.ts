/**
 * The benchmark's SMTP sink, in its own process: accepts everything, keeps
 * the bytes of the first KEEP messages (to replay them through the raw
 * client), and tells its parent over IPC how many it has and when the first
 * and the last one ended. It keeps no more than that: a sink that held every
 * run's 66 MB (1.3 GB by the last runs) slowed the runs measured late, those
 * through Redis among them.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

const messages: { from: string; to: string; raw: Buffer }[] = [];
const keep = Number(process.env.KEEP ?? 0);
let count = 0;
let lastAt = 0;
let firstAt = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  size: 64 * 1024 * 1024,
  maxClients: 1000,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      count++;
      lastAt = performance.timeOrigin + performance.now();
      if (count === 1) firstAt = lastAt;
      if (messages.length < keep)
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo[0]!.address,
          raw: Buffer.concat(chunks),
        });
      callback();
    });
  },
});

server.on('error', () => undefined); // resets by killed clients
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.server.address() as AddressInfo).port }));
process.on('message', (message: { ask: string }) => {
  if (message.ask === 'count') process.send!({ count, firstAt, lastAt });
  if (message.ask === 'reset') {
    count = 0;
    lastAt = 0;
    firstAt = 0;
    process.send!({ reset: true });
  }
  if (message.ask === 'messages') process.send!({ messages: messages.map((m) => ({ from: m.from, to: m.to, raw: m.raw.toString('base64') })) });
});
