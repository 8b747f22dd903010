/**
 * The API validates requests with zod in its handlers, so fastify's
 * JSON-schema compilers are replaced (src/http/app.ts): ajv and
 * fast-json-stringify are never loaded, and a route that declares a schema
 * to check requests or answers with stops the boot instead of going unchecked.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';

const loadedModules = () => Object.keys(createRequire(import.meta.url).cache);

let service: TestService | undefined;
afterEach(async () => {
  await service?.dispose().catch(() => undefined); // a boot that failed has nothing left to close
  service = undefined;
});

describe('fastify without its JSON-schema compilers', () => {
  it('serves the API and its documentation without loading ajv or fast-json-stringify', async () => {
    service = await startTestService({ SMTP_URL: 'smtp://127.0.0.1:9' });
    await service.app.ready();
    expect((await service.app.inject('/healthz')).statusCode).toBe(200);
    expect((await service.app.inject('/openapi.json')).statusCode).toBe(200);
    expect((await service.app.inject('/docs/')).statusCode).toBe(200);
    // (fastify's own error serializer, fast-json-stringify/lib/serializer.js, is always there: it compiles nothing.)
    const compilers = /node_modules\/(ajv\/|@fastify\/ajv-compiler\/|@fastify\/fast-json-stringify-compiler\/|fast-json-stringify\/index\.js)/;
    const loaded = loadedModules().filter((path) => compilers.test(path));
    expect(loaded).toEqual([]);
  });

  it.each([
    ['body', { body: { type: 'object' } }, /POST \/with-schema declares a body JSON schema/],
    ['querystring', { querystring: { type: 'object' } }, /POST \/with-schema declares a querystring JSON schema/],
    ['response', { response: { 200: { type: 'object' } } }, /POST \/with-schema declares a response \(200\) JSON schema/],
  ])('a route with a %s schema stops the boot, naming the route', async (_part, schema, message) => {
    service = await startTestService({ SMTP_URL: 'smtp://127.0.0.1:9' });
    service.app.post('/with-schema', { schema }, async () => ({}));
    await expect(service.app.ready()).rejects.toThrow(message);
  });
});
