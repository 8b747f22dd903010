import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createJsonPoster, MAX_ANSWER_BYTES } from '../../src/webhook/json-poster.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function receiver(answer: 'ok' | 'refuse' | 'hang') {
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      bodies.push(`${request.headers['content-type']} ${request.headers['webhook-id']} ${body}`);
      if (answer === 'ok') response.writeHead(204).end();
      if (answer === 'refuse') response.writeHead(503).end('busy');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`, bodies };
}

describe('createJsonPoster', () => {
  it('reads at most MAX_ANSWER_BYTES of an answer, then drops it with its connection: a 2xx with a endless body is still a 2xx', async () => {
    let written = 0;
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      // An answer that never ends: only the reader's cap stops it.
      const pump = () => {
        while (!response.destroyed && written < 512 * 1024 * 1024 && response.write(chunk)) written += chunk.length;
        if (!response.destroyed) response.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const poster = createJsonPoster(`http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`, { timeoutMs: 5000, connections: 1 });
    closers.push(() => poster.close());
    expect(await poster.post({}, '{}')).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(written).toBeLessThan(32 * 1024 * 1024); // the server stopped writing when its client hung up
    expect(MAX_ANSWER_BYTES).toBe(64 * 1024);
  });

  it('posts JSON with the given headers and answers the status, over a kept-alive connection', async () => {
    const { url, bodies } = await receiver('ok');
    const poster = createJsonPoster(url, { timeoutMs: 2000, connections: 2 });
    closers.push(() => poster.close());
    expect(await poster.post({ 'webhook-id': 'evt_1' }, '{"a":1}')).toBe(204);
    expect(await poster.post({ 'webhook-id': 'evt_2' }, '{"a":2}')).toBe(204);
    expect(bodies).toEqual(['application/json evt_1 {"a":1}', 'application/json evt_2 {"a":2}']);
  });

  it('answers a refusal with its status, and gives up on a receiver that never answers after the timeout', async () => {
    const refusing = await receiver('refuse');
    const poster = createJsonPoster(refusing.url, { timeoutMs: 2000, connections: 2 });
    closers.push(() => poster.close());
    expect(await poster.post({}, '{}')).toBe(503);

    const hanging = await receiver('hang');
    const slow = createJsonPoster(hanging.url, { timeoutMs: 300, connections: 2 });
    closers.push(() => slow.close());
    const started = Date.now();
    await expect(slow.post({}, '{}')).rejects.toThrow('no answer within 300 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});
