/**
 * Only a holder of API_TOKEN can make the service send or read a status,
 * whichever way the path is spelt: the check runs on the route the router
 * matched, after it decoded the path. Requests go over a raw socket, so that
 * no HTTP client normalises the request line before the server sees it.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_ROUTES } from '../../src/http/app.ts';
import type { API_ERRORS } from '../../src/http/errors.ts';
import { EXAMPLES_DIR } from '../helpers/examples.ts';
import { rawHttp } from '../helpers/raw-http.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const TOKEN = 'test-token-0123456789abcdef';
const BODY = readFileSync(`${EXAMPLES_DIR}skype-invitation.json`, 'utf8');
const sink = new SmtpSink();
let service: TestService;
let port: number;

beforeAll(async () => {
  await sink.start();
  service = await startTestService({ SMTP_URL: sink.url, API_TOKEN: TOKEN });
  port = Number(new URL(await service.app.listen({ host: '127.0.0.1', port: 0 })).port);
});
afterAll(async () => {
  await service.dispose();
  await sink.stop();
});

/** Spellings of the API's paths that a router decoding or normalising them could match. */
const SPELLINGS = (path: string) => [
  path,
  path.replace('/v1/', '/%76%31/'),
  path.replace('/v1/', '/v%31/'),
  path.replace('/notifications', '/%6eotifications'),
  `http://localhost${path}`,
  `http://127.0.0.1:1${path}`,
  `/${path}`,
  path.replace('/v1/', '/v1//'),
  `/.${path}`,
  `/x/..${path}`,
  path.replace('/v1/', '/v1/./'),
  path.replace('/v1/', '/V1/'),
  path.toUpperCase(),
  `${path}/`,
  `${path}?x=1`,
  `${path}#x`,
  `${path};x`,
  path.replace('/v1/', '/v1%2f'),
];

describe('the token guards every route but the public list', () => {
  it.each(SPELLINGS('/v1/notifications'))('POST %s without a token: 401 or 404, nothing stored, nothing sent', async (target) => {
    const response = await rawHttp(port, `POST ${target} HTTP/1.1`, ['Content-Type: application/json'], BODY);
    expect([400, 401, 404]).toContain(response.status);
    expect(response.status).not.toBe(202);
    const counts = await service.outbox.counts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    expect(sink.received).toHaveLength(0);
  });

  it.each(SPELLINGS('/v1/notifications/some-id'))('GET %s without a token: never a status', async (target) => {
    const response = await rawHttp(port, `GET ${target} HTTP/1.1`);
    expect([400, 401, 404]).toContain(response.status);
    // A 404 would tell that the route exists and the id does not: only a token holder may learn that.
    if (response.status === 404) expect(JSON.parse(response.body).error.message).toBe('No such endpoint');
  });

  it('a path that matches no route needs the token too (nothing tells a stranger what exists)', async () => {
    for (const target of ['/nothing', '/HEALTHZ', '/v1', '/v2/notifications']) {
      expect((await rawHttp(port, `GET ${target} HTTP/1.1`)).status).toBe(401);
    }
  });

  it('with the token, the percent-encoded spelling reaches the same route (the check is on the route, not the text)', async () => {
    const response = await rawHttp(port, 'POST /v%31/notifications HTTP/1.1', ['Content-Type: application/json', `Authorization: Bearer ${TOKEN}`], BODY);
    expect(response.status).toBe(202);
  });

  it.each([...PUBLIC_ROUTES])('%s is public', async (route) => {
    const response = await rawHttp(port, `GET ${route.replace(/\*$/, 'swagger-ui.css')} HTTP/1.1`);
    expect([200, 302, 503]).toContain(response.status); // /readyz may say not ready, /docs/static/index.html redirects to /docs/; never 401
  });

  it('the public list is exactly what docs/api.md names', () => {
    expect([...PUBLIC_ROUTES].sort()).toEqual([
      '/',
      '/docs',
      '/docs/',
      '/docs/json',
      '/docs/static/*',
      '/docs/static/index.html',
      '/docs/static/swagger-initializer.js',
      '/docs/yaml',
      '/healthz',
      '/metrics',
      '/openapi.json',
      '/readyz',
    ]);
  });
});

describe('refusals before the router are in the documented shape and never echo the request', () => {
  const documented = (body: string, code: keyof typeof API_ERRORS) => {
    const json = JSON.parse(body);
    expect(json).toEqual({ error: { code, message: expect.any(String), issues: [] } });
    return json.error.message as string;
  };

  it('414 for a path segment longer than any id', async () => {
    const response = await rawHttp(port, `GET /v1/notifications/${'a'.repeat(300)}<script> HTTP/1.1`, [`Authorization: Bearer ${TOKEN}`]);
    expect(response.status).toBe(414);
    expect(documented(response.body, 'URL_TOO_LONG')).not.toContain('aaaa');
    expect(response.body).not.toContain('<script>');
  });

  it('400 for a path that cannot be decoded', async () => {
    const response = await rawHttp(port, 'GET /v1/notifications/%zz<b> HTTP/1.1', [`Authorization: Bearer ${TOKEN}`]);
    expect(response.status).toBe(400);
    documented(response.body, 'BAD_REQUEST');
    expect(response.body).not.toContain('<b>');
  });

  it('431 for headers larger than the server reads', async () => {
    const response = await rawHttp(port, 'GET /healthz HTTP/1.1', [`X-Big: ${'b'.repeat(20_000)}`]);
    expect(response.status).toBe(431);
    documented(response.body, 'HEADERS_TOO_LARGE');
  });

  it('404 for an unknown path names no path', async () => {
    const response = await rawHttp(port, 'GET /v1/<img>nothing HTTP/1.1', [`Authorization: Bearer ${TOKEN}`]);
    expect(response.status).toBe(404);
    expect(documented(response.body, 'NOT_FOUND')).not.toContain('img');
  });
});
