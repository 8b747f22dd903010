import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

/**
 * Sends bytes to an HTTP server as they are, with no client normalising the
 * request line (percent-encoding, absolute-form targets, dot segments stay as
 * written), and reads the answer until the server closes.
 *
 * @example await rawHttp(port, 'GET /v%31/notifications/x HTTP/1.1', ['Host: a'])
 */
export function rawHttp(port: number, requestLine: string, headers: readonly string[] = [], body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const head = [requestLine, 'Host: localhost', ...headers, 'Connection: close'];
      if (body) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
      socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, headers: text.slice(0, split), body: text.slice(split + 4) });
    });
  });
}
