/**
 * POSTs JSON to one URL over kept-alive connections (node:http / node:https).
 * Not `fetch`: measured here, undici's fetch with its web streams and abort
 * signals cost twice the CPU per request, and webhooks share the CPU with
 * the mail going out (bench:service's webhook run).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** The most of an answer's body read before its connection is dropped. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface JsonPoster {
  /** Resolves with the HTTP status once the whole answer has come; rejects on a network error or after the timeout. */
  post(headers: Readonly<Record<string, string>>, body: string): Promise<number>;
  close(): void;
}

/**
 * @example
 * const poster = createJsonPoster('https://backend.example/hooks', { timeoutMs: 10_000, connections: 16 });
 * const status = await poster.post({ 'webhook-id': 'evt_1' }, '{"type":"delivery.sent"}');
 */
export function createJsonPoster(url: string, options: { readonly timeoutMs: number; readonly connections: number }): JsonPoster {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: options.connections })
    : new HttpAgent({ keepAlive: true, maxSockets: options.connections });
  const send = secure ? httpsRequest : httpRequest;
  return {
    post(headers, body) {
      return new Promise<number>((resolve, reject) => {
        const request = send(target, {
          method: 'POST',
          agent,
          headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        });
        const timer = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
        request.on('response', (response: IncomingMessage) => {
          // The body means nothing (a 2xx is the answer): read and dropped up to a small cap, so that
          // the connection can be kept; a longer one costs its connection, never the memory to hold it.
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes <= MAX_ANSWER_BYTES) return;
            clearTimeout(timer);
            resolve(response.statusCode ?? 0);
            response.destroy();
          });
          response.on('end', () => {
            clearTimeout(timer);
            resolve(response.statusCode ?? 0);
          });
          response.on('close', () => {
            clearTimeout(timer);
            if (!response.complete && bytes <= MAX_ANSWER_BYTES) reject(new Error('the answer broke off'));
          });
        });
        request.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        request.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
