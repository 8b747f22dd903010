/**
 * The HTTP API for the calendar backend. `buildApp` makes the fastify
 * instance; `listen` is the caller's (src/cli/start.ts), so tests use `inject`.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { deadlineFor } from '../delivery/deadline.ts';
import type { Metrics } from '../delivery/metrics.ts';
import { InvalidRequestError } from '../model/errors.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import { recipientsOf } from '../model/people.ts';
import type { NotificationStatus, Outbox } from '../outbox/outbox.ts';
import { ApiError } from './errors.ts';
import { docsPage, openApiDocument } from './openapi.ts';
import { prometheusText } from './prometheus.ts';

export interface AppDependencies {
  readonly config: Config;
  readonly outbox: Outbox;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Tells whether the SMTP relay answers (for /readyz). */
  readonly checkSmtp: () => Promise<unknown>;
  /** Called after a notification is stored: wakes the worker. */
  readonly onAccepted?: () => void;
  readonly version?: string;
}

interface JsonBody {
  readonly raw: string;
  readonly json: unknown;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * @example
 * const app = await buildApp({ config, outbox, logger, metrics, checkSmtp: () => transport.verify() });
 * await app.listen({ host: config.http.host, port: config.http.port });
 */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config, outbox, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: config.http.bodyLimitBytes,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
  });
  const openapi = openApiDocument(deps.version ?? '0.0.0');
  const docs = docsPage(openapi);
  /** Idempotency keys whose first request is being stored by this instance. */
  const storing = new Set<string>();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, { raw: body as string, json: JSON.parse(body as string) } satisfies JsonBody);
    } catch (error) {
      done(new ApiError('INVALID_JSON', `The body is not valid JSON: ${(error as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser('*', (_request, _payload, done) => done(new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the notification as application/json'), undefined));

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') || !config.http.apiToken) return;
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1] ?? '';
    const expected = Buffer.from(config.http.apiToken);
    const given = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError('UNAUTHORIZED', header ? 'The bearer token is not the API_TOKEN' : 'Send Authorization: Bearer <API_TOKEN>');
    }
  });

  app.setErrorHandler((error: FastifyError | ApiError | InvalidRequestError, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) request.log.error({ err: error }, apiError.message);
    else request.log.info({ code: apiError.code, issues: apiError.issues.slice(0, 20) }, 'request refused');
    return reply.code(apiError.status).type('application/json').send(apiError.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('NOT_FOUND', `No endpoint ${request.method} ${request.url.split('?')[0]}`);
    return reply.code(404).send(error.toJSON());
  });

  app.post('/v1/notifications', async (request, reply) => {
    const body = request.body as JsonBody | undefined;
    if (!body) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the notification as application/json');
    const keyHeader = request.headers['idempotency-key'];
    const key = typeof keyHeader === 'string' ? keyHeader : null;
    if (key !== null && !IDEMPOTENCY_KEY.test(key)) {
      throw new ApiError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 printable ASCII characters', [{ path: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' }]);
    }
    const notification = parseNotificationRequest(body.json);
    if (key !== null && storing.has(key)) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still being stored');

    const acceptedAt = Date.now();
    const recipients = recipientsOf(notification).map((r) => r.email);
    if (key !== null) storing.add(key);
    let outcome;
    try {
      outcome = await outbox.accept({
        id: randomUUID(),
        idempotencyKey: key,
        bodyHash: createHash('sha256').update(canonicalJson(body.json)).digest('hex'),
        body: body.raw,
        request: notification,
        recipients,
        acceptedAt,
        deadlineAt: deadlineFor(notification, acceptedAt, config.retry),
      });
    } catch (error) {
      request.log.error({ err: error }, 'the outbox could not store a notification');
      throw new ApiError('OUTBOX_UNAVAILABLE', `The outbox cannot store notifications now: ${(error as Error).message}`);
    } finally {
      if (key !== null) storing.delete(key);
    }

    switch (outcome.kind) {
      case 'key-reused':
        throw new ApiError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with another body');
      case 'in-progress':
        throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still being stored');
      case 'replayed':
        reply.header('Idempotent-Replayed', 'true');
        return reply.code(202).send(acceptedBody(outcome.notification));
      case 'accepted':
        metrics.add('accepted', recipients.length);
        request.log.info({ notificationId: outcome.notification.id, recipients: recipients.length, type: notification.type, uid: notification.event.uid }, 'notification accepted');
        deps.onAccepted?.();
        return reply.code(202).send(acceptedBody(outcome.notification));
    }
  });

  app.get<{ Params: { id: string } }>('/v1/notifications/:id', async (request) => {
    const status = await outbox.status(request.params.id);
    if (!status) throw new ApiError('NOT_FOUND', `No notification ${request.params.id}`);
    return status;
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const [outboxState, smtpState] = await Promise.all([probe(() => outbox.checkWritable()), probe(deps.checkSmtp)]);
    const ready = outboxState === 'ok' && smtpState === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', outbox: outboxState, smtp: smtpState });
  });

  app.get('/metrics', async (_request, reply) => {
    const counts = await outbox.counts();
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(prometheusText(metrics, counts));
  });

  app.get('/openapi.json', async () => openapi);
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(docs));

  return app;
}

/** The first answer to a notification: its id and every recipient queued. */
function acceptedBody(notification: NotificationStatus) {
  return { id: notification.id, recipients: notification.recipients.map((r) => ({ email: r.email, status: 'queued' as const })) };
}

async function probe(check: () => Promise<unknown>): Promise<string> {
  try {
    await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref())]);
    return 'ok';
  } catch (error) {
    return (error as Error).message || String(error);
  }
}

function toApiError(error: FastifyError | ApiError | InvalidRequestError): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof InvalidRequestError) return new ApiError('INVALID_REQUEST', error.message, error.issues);
  switch ((error as FastifyError).code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', error.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('INVALID_JSON', 'The body is empty');
  }
  const status = (error as FastifyError).statusCode;
  if (status === 400) return new ApiError('INVALID_JSON', error.message);
  if (status === 404) return new ApiError('NOT_FOUND', error.message);
  return new ApiError('INTERNAL', 'Internal error');
}

/** JSON with object keys sorted, so that the same body in another key order is the same body. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
