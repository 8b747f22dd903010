/**
 * The benchmark's SMTP sink, in its own process, made not to be the
 * bottleneck: a few lines of SMTP on node:net that greet at once, offer
 * PIPELINING (RFC 2920), answer each command as its line arrives and throw
 * the message bytes away, looking only for the end of DATA. (smtp-server,
 * the sink before, held a raw pipelined client to 0.3–0.55 s for 1600
 * messages; through this one the same client takes a fraction of that, so a
 * ratio to it is a ratio to the wire.)
 *
 * Every message is checked: it must end with `<CRLF>.<CRLF>` after a MAIL
 * and one or more RCPT, and the sink counts the recipients it saw, so a run
 * that lost or doubled a message cannot pass for a complete one. It keeps
 * the bytes of the first KEEP messages (for the raw client to replay) and
 * tells its parent over IPC how many it has, the distinct recipients, when
 * the first and the last one ended; watching, it tells when a count is
 * reached and when a given recipient's message arrived, as it happens.
 */
import { createServer, type Socket } from 'node:net';

const END_OF_DATA = Buffer.from('\r\n.\r\n');
const keep = Number(process.env.KEEP ?? 0);
const kept: { from: string; to: string; raw: Buffer }[] = [];
let count = 0;
let firstAt = 0;
let lastAt = 0;
let malformed = 0;
/** Each recipient's last arrival (epoch ms) since the last reset. */
const arrivals = new Map<string, number>();
/** What the parent asked to be told of as it happens (so that it need not ask again and again, which takes cores from the run). */
let watch: { count: number; address: string; countSent: boolean } | null = null;

function session(socket: Socket): void {
  socket.setNoDelay(true);
  let from = '';
  let to: string[] = [];
  let inData = false;
  let pending: Buffer = Buffer.alloc(0);
  let body: Buffer[] = [];
  socket.write('220 sink ESMTP\r\n');
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length) {
      if (inData) {
        const end = pending.indexOf(END_OF_DATA);
        if (end < 0) {
          // Keep the last four bytes: the end mark may straddle two chunks.
          if (kept.length < keep) body.push(pending.subarray(0, pending.length - 4));
          pending = pending.subarray(Math.max(0, pending.length - 4));
          return;
        }
        if (kept.length < keep) body.push(pending.subarray(0, end + 2));
        pending = pending.subarray(end + END_OF_DATA.length);
        inData = false;
        finished(from, to, body);
        body = [];
        to = [];
        socket.write('250 2.0.0 queued\r\n');
        continue;
      }
      const lineEnd = pending.indexOf('\r\n');
      if (lineEnd < 0) return;
      const line = pending.subarray(0, lineEnd).toString('latin1');
      pending = pending.subarray(lineEnd + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') socket.write('250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 67108864\r\n');
      else if (verb === 'MAIL') {
        from = /<([^>]*)>/.exec(line)?.[1] ?? '';
        to = [];
        socket.write('250 2.1.0 ok\r\n');
      } else if (verb === 'RCPT') {
        to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
        socket.write('250 2.1.5 ok\r\n');
      } else if (verb === 'DATA') {
        if (to.length === 0) {
          malformed++;
          socket.write('503 5.5.1 no recipients\r\n');
        } else {
          inData = true;
          // The first line of the body may start with the end mark's second half.
          pending = Buffer.concat([Buffer.from('\r\n'), pending]);
          socket.write('354 go ahead\r\n');
        }
      } else if (verb === 'QUIT') socket.end('221 2.0.0 bye\r\n');
      else socket.write('250 2.0.0 ok\r\n'); // HELO, RSET, NOOP
    }
  });
  socket.on('error', () => undefined); // resets by killed clients
}

function finished(from: string, to: string[], body: Buffer[]): void {
  count++;
  lastAt = performance.timeOrigin + performance.now();
  if (count === 1) firstAt = lastAt;
  for (const address of to) arrivals.set(address, lastAt);
  if (watch && !watch.countSent && count >= watch.count) {
    watch.countSent = true;
    process.send!({ watched: 'count', at: lastAt });
  }
  if (watch && to.includes(watch.address)) {
    process.send!({ watched: 'arrival', at: lastAt });
    watch = null;
  }
  // The body as sent, dot-stuffing undone (RFC 5321 §4.5.2), without the CRLF the end mark began with.
  if (kept.length < keep) {
    const raw = Buffer.concat(body)
      .subarray(2)
      .toString('latin1')
      .replace(/\r\n\.\./g, '\r\n.');
    kept.push({ from, to: to[0]!, raw: Buffer.from(raw.endsWith('\r\n') ? raw : `${raw}\r\n`, 'latin1') });
  }
}

const server = createServer(session);
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('message', (message: { ask: string; address?: string }) => {
  if (message.ask === 'count') process.send!({ count, recipients: arrivals.size, malformed, firstAt, lastAt });
  if (message.ask === 'watch') watch = { count: Number((message as { count?: number }).count ?? 0), address: message.address ?? '', countSent: false };
  if (message.ask === 'reset') {
    count = 0;
    firstAt = 0;
    lastAt = 0;
    malformed = 0;
    arrivals.clear();
    process.send!({ reset: true });
  }
  if (message.ask === 'messages') process.send!({ messages: kept.map((m) => ({ from: m.from, to: m.to, raw: m.raw.toString('base64') })) });
});
