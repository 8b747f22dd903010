/**
 * A backend's webhook endpoint for tests: verifies every request's signature
 * with the `standardwebhooks` package, as a backend would, then answers as
 * `mode` says (204, 503, or never).
 */
import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceivedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: { notificationId: string; position: number; recipient: string; status: string; report: unknown };
}

/** A backend's webhook endpoint: verifies each request, then answers as `mode` says. */
export class WebhookReceiver {
  readonly received: ReceivedEvent[] = [];
  readonly refused: string[] = [];
  mode: 'ok' | 'down' | 'hang' = 'ok';
  private server: Server | undefined;
  private readonly verifier: Webhook;
  url = '';

  constructor(secret: string) {
    this.verifier = new Webhook(secret);
  }

  async start() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (this.mode === 'down') {
          response.writeHead(503).end();
          return;
        }
        try {
          const event = this.verifier.verify(body, request.headers as Record<string, string>) as Omit<ReceivedEvent, 'id'>;
          this.received.push({ id: String(request.headers['webhook-id']), ...event });
          if (this.mode === 'hang') return; // took it, never answers: to the sender it is not delivered
          response.writeHead(204).end();
        } catch (error) {
          this.refused.push((error as Error).message);
          response.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/hooks`;
    return this;
  }

  stop() {
    this.server?.closeAllConnections();
    return new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  of(notificationId: string) {
    return this.received.filter((e) => e.data.notificationId === notificationId);
  }
}
