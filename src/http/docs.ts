/**
 * The API's documentation: @fastify/swagger serves the OpenAPI document
 * (static mode: the document is openapi.ts's, built from the zod schema
 * that validates requests) and @fastify/swagger-ui shows it at /docs,
 * interactive ("Try it out", "Authorize" with the bearer token), its assets
 * served from the package (no CDN: the page works offline and behind a proxy).
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { openApiDocument } from './openapi.ts';

/** Where Swagger UI answers. */
export const DOCS_PREFIX = '/docs';

/**
 * The routes the documentation registers, by their router path: public, like
 * the document itself. A test keeps this list equal to what the plugins register.
 */
export const DOCS_ROUTES: readonly string[] = [
  DOCS_PREFIX,
  `${DOCS_PREFIX}/`,
  `${DOCS_PREFIX}/json`,
  `${DOCS_PREFIX}/yaml`,
  `${DOCS_PREFIX}/static/index.html`,
  `${DOCS_PREFIX}/static/swagger-initializer.js`,
  `${DOCS_PREFIX}/static/*`,
];

/**
 * Registers the document and the UI; answers the paths of the routes the
 * UI's plugin registered (what DOCS_ROUTES must list).
 *
 * @example
 * await registerDocs(app, '1.2.0'); // GET /docs (Swagger UI), GET /openapi.json
 */
export async function registerDocs(app: FastifyInstance, version: string): Promise<string[]> {
  const registered: string[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith(DOCS_PREFIX)) registered.push(route.url);
  });
  await app.register(fastifySwagger, { mode: 'static', specification: { document: openApiDocument(version) as never } });
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    // A Content-Security-Policy on the page and its assets: scripts from this origin only. Inline
    // styles are allowed (Swagger UI sets some; a style cannot run code). Without
    // upgrade-insecure-requests: the service is often reached over plain HTTP inside a network, and
    // that directive would send the page's own asset requests to an https:// it does not serve.
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;/, '').replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false, tryItOutEnabled: false },
  });
  // The machine-readable document where clients and code generators look for it.
  app.get('/openapi.json', async () => app.swagger());
  await app.after();
  return registered;
}
