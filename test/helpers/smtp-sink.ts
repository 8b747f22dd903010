import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';

export interface ReceivedMessage {
  readonly from: string;
  readonly to: string[];
  readonly raw: Buffer;
  /** The SMTP session (connection) it came over: one of `sessions`. */
  readonly session: string;
}

/** What the sink answers to one RCPT TO: accept (undefined) or an SMTP error. */
export type RcptPolicy = (address: string, attempt: number) => { code: number; message: string } | undefined;

/**
 * A real SMTP server on loopback that keeps what it accepted, and can be told
 * to refuse recipients (550, 451) the way relays do.
 */
export class SmtpSink {
  readonly received: ReceivedMessage[] = [];
  rcptPolicy: RcptPolicy = () => undefined;
  /** Milliseconds the sink takes to accept each message (a relay is not instant). */
  dataDelayMs = 0;
  private readonly attempts = new Map<string, number>();
  private server: SMTPServer | undefined;
  /** The id of each SMTP session (connection) opened to the sink, in order. */
  readonly sessions: string[] = [];
  /** Connection errors the server saw (resets by killed clients). */
  readonly connectionErrors: Error[] = [];
  port = 0;

  async start(): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      size: 50 * 1024 * 1024,
      onConnect: (session: SMTPServerSession, callback: () => void) => {
        this.sessions.push(session.id);
        callback();
      },
      onRcptTo: (address: SMTPServerAddress, _session: SMTPServerSession, callback: (error?: Error) => void) => {
        const attempt = (this.attempts.get(address.address) ?? 0) + 1;
        this.attempts.set(address.address, attempt);
        const refusal = this.rcptPolicy(address.address, attempt);
        if (!refusal) return callback();
        return callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const envelope = session.envelope;
          const accept = () => {
            this.received.push({
              from: envelope.mailFrom ? envelope.mailFrom.address : '',
              to: envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks),
              session: session.id,
            });
            callback();
          };
          if (this.dataDelayMs) setTimeout(accept, this.dataDelayMs);
          else accept();
        });
      },
    });
    // A client killed mid-session (the crash tests) resets its connection: an event, not a failure.
    this.server.on('error', (error: Error) => this.connectionErrors.push(error));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** The message delivered to `address` (the last one, if several). */
  messageTo(address: string): ReceivedMessage | undefined {
    return this.received.filter((m) => m.to.includes(address)).pop();
  }

  /** The Message-IDs each recipient received, in order: a recipient with two got a duplicate. */
  messageIdsByRecipient(): Map<string, string[]> {
    const byRecipient = new Map<string, string[]>();
    for (const message of this.received) {
      const id = /^Message-ID:\s*(?:\r\n\s+)?(<[^>]+>)/im.exec(message.raw.toString())![1]!;
      for (const to of message.to) byRecipient.set(to, [...(byRecipient.get(to) ?? []), id]);
    }
    return byRecipient;
  }

  reset(): void {
    this.received.length = 0;
    this.sessions.length = 0;
    this.attempts.clear();
    this.rcptPolicy = () => undefined;
    this.dataDelayMs = 0;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
