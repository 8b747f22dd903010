import { createServer, type Server, type Socket } from 'node:net';

/**
 * How the relay misbehaves: at the greeting, per recipient, during and after DATA.
 * Each field is read when the moment comes, so a test may change it between messages.
 */
export interface RelayScript {
  /** `421 …` closes at once; `silent` never greets. Default a normal 220. */
  greeting?: 'ok' | '421' | 'silent';
  /** The reply to RCPT TO for an address; default 250. */
  rcpt?: (address: string) => string;
  /** `drop` closes the connection when the message has arrived, without a reply. */
  afterData?: 'reply' | 'drop';
  /** Milliseconds before the reply to the end of DATA (a slow relay: it has the message). */
  dataReplyDelayMs?: number;
  /** Close the connection after this many bytes of message data (mid-DATA). */
  dropAfterBytes?: number;
  /** Close the connection at the first bytes of a message to these recipients, when this says so (a reset during DATA). */
  dropDuringData?: (recipients: readonly string[]) => boolean;
  /** Close the connection, without a reply, at the MAIL FROM of its nth message (a relay done with a connection it kept open). */
  dropAtMessage?: number;
}

/**
 * An SMTP relay on loopback written for faults: it speaks just enough of
 * RFC 5321 (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and does what its script
 * says. `messages` holds every message whose data ended, whether or not the
 * relay answered it: what a real relay would have taken.
 */
export class FaultRelay {
  script: RelayScript = {};
  readonly messages: { to: string[]; raw: string }[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  port = 0;

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((socket) => this.session(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private session(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const greeting = this.script.greeting ?? 'ok';
    if (greeting === 'silent') return;
    if (greeting === '421') {
      socket.end('421 4.3.2 Service not available, closing transmission channel\r\n');
      return;
    }
    socket.write('220 fault-relay ESMTP\r\n');
    let buffer = '';
    let inData = false;
    let data = '';
    let recipients: string[] = [];
    let mails = 0;
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          if (data.length === 0 && buffer.length > 0 && this.script.dropDuringData?.(recipients)) {
            socket.destroy();
            return;
          }
          const limit = this.script.dropAfterBytes;
          if (limit !== undefined && data.length + buffer.length >= limit) {
            socket.destroy();
            return;
          }
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) {
            data += buffer;
            buffer = '';
            return;
          }
          data += buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 5);
          inData = false;
          this.messages.push({ to: recipients, raw: data });
          data = '';
          recipients = [];
          if ((this.script.afterData ?? 'reply') === 'drop') {
            socket.destroy();
            return;
          }
          const reply = () => socket.writable && socket.write('250 2.0.0 Ok: queued\r\n');
          if (this.script.dataReplyDelayMs) setTimeout(reply, this.script.dataReplyDelayMs);
          else reply();
          continue;
        }
        const newline = buffer.indexOf('\r\n');
        if (newline === -1) return;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250-fault-relay\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n');
        else if (verb === 'MAIL') {
          mails++;
          if (mails === this.script.dropAtMessage) {
            socket.destroy();
            return;
          }
          socket.write('250 2.1.0 Ok\r\n');
        } else if (verb === 'RCPT') {
          const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
          const reply = this.script.rcpt?.(address) ?? '250 2.1.5 Ok';
          if (reply.startsWith('2')) recipients.push(address);
          socket.write(`${reply}\r\n`);
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        } else if (verb === 'RSET') {
          recipients = [];
          socket.write('250 2.0.0 Ok\r\n');
        } else if (verb === 'NOOP') socket.write('250 2.0.0 Ok\r\n');
        else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
        else socket.write('502 5.5.2 Error: command not recognized\r\n');
      }
    });
  }
}
