/**
 * The HTTP API for the calendar backend. `buildApp` makes the fastify
 * instance; `listen` is the caller's (src/cli/start.ts), so tests use `inject`.
 */
import { hash, randomUUID, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { BounceIntake } from '../bounce/intake.ts';
import type { Config } from '../config/config.ts';
import { newNotification } from '../delivery/admission.ts';
import { InvalidRequestError } from '../model/errors.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import { type AcceptOutcome, DELIVERY_STATUSES, type DeliveryStatus, type NotificationStatus, type Outbox } from '../outbox/outbox.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { DOCS_PREFIX, DOCS_ROUTES, registerDocs } from './docs.ts';
import { ApiError } from './errors.ts';
import { probe, watchRelay } from './relay-health.ts';

export interface AppDependencies {
  readonly config: Config;
  readonly outbox: Outbox;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Tells whether the SMTP relay answers (for the probes and /metrics; relay-health.ts). */
  readonly checkSmtp: () => Promise<unknown>;
  /**
   * Called when an authorised POST of a notification has come, before it is
   * validated, with how many recipients it names: the SMTP pool opens their
   * connections (greeting, EHLO, STARTTLS, AUTH) while it is stored and
   * rendered, rather than after (the sockets connect at the handler's first
   * await, once it is validated: src/transport/smtp.ts).
   */
  readonly onNotificationPosted?: (recipients: number) => void;
  /** Called after a notification is stored: wakes the worker. */
  readonly onAccepted?: () => void;
  readonly version?: string;
  /** The event consumers the outbox was opened with (`webhook`, `notice`): their backlogs go to /metrics. */
  readonly eventConsumers?: readonly string[];
  /** Takes bounces piped in by a mail server (`POST /v1/bounces`); the route exists only with it. */
  readonly bounces?: BounceIntake;
}

interface JsonBody {
  readonly raw: string;
  readonly json: unknown;
}

/** 1 to 255 printable ASCII characters, space included (HTTP itself trims a header value's ends). */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/**
 * Routes anyone may call without the token, by their matched route: liveness,
 * readiness, metrics and the API's description (the document and Swagger UI's
 * page and assets). Every other route needs it.
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/', '/healthz', '/readyz', '/metrics', '/openapi.json', ...DOCS_ROUTES]);

/**
 * Fastify's JSON-schema compilers, replaced. Requests are checked by the zod
 * schemas of src/model in the handlers, and answers are serialized by
 * JSON.stringify, so ajv and fast-json-stringify have nothing to do here; a
 * fastify instance loads both unless given compilers, which cost about 50 ms
 * of every start (CPU profile of `npm start`, docs/design/own-paths.md).
 * A route that declares a schema to validate or serialize with (body,
 * querystring, params, headers, response) fails at boot, naming the route,
 * instead of going unchecked. A `schema` with only documentation (`hide`)
 * needs no compiler.
 */
const NO_JSON_SCHEMA_COMPILERS = {
  // Fastify calls each compiler with the route's definition; its types name ajv's signature instead.
  buildValidator: (() => refuseJsonSchema) as never,
  buildSerializer: (() => refuseJsonSchema) as never,
};

function refuseJsonSchema({ method, url, httpPart, httpStatus }: { method: string; url: string; httpPart?: string; httpStatus?: string }): never {
  const part = httpPart ? `a ${httpPart}` : `a response (${httpStatus})`;
  throw new Error(`${method} ${url} declares ${part} JSON schema: requests are validated with zod in the handler, answers with JSON.stringify`);
}

/**
 * @example
 * const app = await buildApp({ config, outbox, logger, metrics, checkSmtp: () => transport.verify() });
 * await app.listen({ host: config.http.host, port: config.http.port });
 */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config, outbox, metrics } = deps;
  const relay = watchRelay(deps.checkSmtp, deps.logger);
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: config.http.bodyLimitBytes,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    // The router's own refusals and the HTTP parser's, in the documented error shape (never echoing the URL).
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const apiError =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError('URL_TOO_LONG', 'A path segment is too long')
          : new ApiError('BAD_REQUEST', 'The path cannot be decoded');
      return reply.code(apiError.status).type('application/json').send(apiError.toJSON());
    },
    clientErrorHandler: answerClientError,
    logController: new ProbesAtDebug(),
    schemaController: { compilersFactory: NO_JSON_SCHEMA_COMPILERS },
  });
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
  app.addContentTypeParser('message/rfc822', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addContentTypeParser('*', (_request, _payload, done) =>
    done(new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the notification as application/json'), undefined),
  );

  // The check runs on the route the router matched, after it decoded the path: no spelling of a
  // path (percent-encoding, absolute-form request line, dot segments) reaches a route around it.
  // A path that matches no route needs the token too, so that nothing answers without it but the public list.
  app.addHook('onRequest', async (request) => {
    if (!config.http.apiToken) return; // loopback only (config refuses another HOST without a token)
    if (!request.is404 && PUBLIC_ROUTES.has(request.routeOptions.url ?? '')) return;
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
  // Answers never echo the request's path: it is the caller's text, and may be a probe.
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(new ApiError('NOT_FOUND', 'No such endpoint').toJSON()));

  app.post('/v1/notifications', async (request, reply) => {
    const body = request.body as JsonBody | undefined;
    if (!body || Buffer.isBuffer(body)) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the notification as application/json');
    const keyHeader = request.headers['idempotency-key'];
    const key = typeof keyHeader === 'string' ? keyHeader : null;
    if (key !== null && !IDEMPOTENCY_KEY.test(key)) {
      throw new ApiError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 printable ASCII characters', [
        { path: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' },
      ]);
    }
    deps.onNotificationPosted?.(recipientCount(body.json));
    const notification = parseNotificationRequest(body.json);
    if (key !== null && storing.has(key)) throw new ApiError('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still being stored');

    const stored = newNotification(
      notification,
      {
        id: randomUUID(),
        idempotencyKey: key,
        // Compared only when the same key comes again: without a key there is nothing to compare
        // it with (the hash took 12–34 ms of a 1600-recipient POST).
        bodyHash: key === null ? '' : hash('sha256', canonicalJson(body.json), 'hex'),
        body: body.raw,
        acceptedAt: Date.now(),
      },
      config.retry,
    );
    if (key !== null) storing.add(key);
    let outcome: AcceptOutcome;
    try {
      outcome = await outbox.accept(stored);
    } catch (error) {
      request.log.error({ err: error }, 'the outbox could not store a notification');
      throw new ApiError(
        'OUTBOX_UNAVAILABLE',
        'The outbox did not confirm storing the notification; retry later (with the same Idempotency-Key, a retry is never stored twice)',
      );
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
        metrics.observeAccepted(reply.elapsedTime / 1000);
        return reply.code(202).send(acceptedBody(outcome.notification));
      case 'accepted':
        metrics.add('accepted', stored.recipients.length);
        request.log.info(
          { notificationId: outcome.notification.id, recipients: stored.recipients.length, type: notification.type, uid: notification.event.uid },
          'notification accepted',
        );
        deps.onAccepted?.();
        metrics.observeAccepted(reply.elapsedTime / 1000);
        return reply.code(202).send(acceptedBody(outcome.notification));
    }
  });

  app.get<{ Params: { id: string } }>('/v1/notifications/:id', async (request) => {
    const status = await outboxRead(request, () => outbox.status(request.params.id));
    if (!status) throw new ApiError('NOT_FOUND', 'No notification with this id');
    return withTotals(status);
  });

  // Erasure on request (GDPR art. 17, 152-ФЗ art. 21): everything stored of the notification, now.
  // What was not sent is never sent; a message already on the wire may still arrive.
  app.delete<{ Params: { id: string } }>('/v1/notifications/:id', async (request, reply) => {
    const removed = await outboxRead(request, () => outbox.erase(request.params.id));
    if (!removed) throw new ApiError('NOT_FOUND', 'No notification with this id');
    metrics.addRemoved('erased', removed);
    request.log.info({ notificationId: request.params.id, undeliveredEvents: removed.undeliveredEvents }, 'notification erased on request');
    return reply.code(204).send();
  });

  // Where a person who opens the service's address in a browser wants to be.
  app.get('/', async (_request, reply) => reply.redirect(DOCS_PREFIX, 302));

  if (deps.bounces) {
    const bounces = deps.bounces;
    // For mail servers that pipe bounces to a command (curl --data-binary @- …): the raw message.
    app.post('/v1/bounces', async (request) => {
      if (!Buffer.isBuffer(request.body)) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the bounce as message/rfc822');
      try {
        return await bounces.take(request.body);
      } catch (error) {
        request.log.error({ err: error }, 'a bounce could not be taken');
        throw new ApiError('OUTBOX_UNAVAILABLE', 'The bounce cannot be recorded now (the outbox is away, or too many bounces wait to be read); retry later');
      }
    });
  }

  // Kubernetes' meanings: liveness says the process works; readiness says it can take notifications
  // (the outbox takes writes: on Redis, Redis answers). The relay is reported in both, and fails neither:
  // while it is away the outbox is exactly what should keep taking notifications.
  app.get('/healthz', async () => ({ status: 'ok', smtp: await relay.state() }));

  app.get('/readyz', async (_request, reply) => {
    const [outboxState, smtpState] = await Promise.all([probe(() => outbox.checkWritable()), relay.state()]);
    const ready = outboxState === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', outbox: outboxState, smtp: smtpState });
  });

  // One read of the outbox a scrape (503 OUTBOX_UNAVAILABLE when it cannot answer, as every read);
  // the relay's state at most RELAY_CHECK_INTERVAL_MS old, as the probes see it.
  app.get('/metrics', async (request, reply) => {
    const now = Date.now();
    const consumers = deps.eventConsumers ?? [];
    const [snapshot] = await Promise.all([
      outboxRead(request, async () => {
        const [counts, backlog, events] = await Promise.all([
          outbox.counts(),
          outbox.backlog(now),
          Promise.all(consumers.map((consumer) => outbox.events.backlog(consumer))),
        ]);
        return { counts, ...backlog, events: Object.fromEntries(consumers.map((consumer, i) => [consumer, events[i]!])) };
      }),
      relay.state(),
    ]);
    metrics.setOutbox({ ...snapshot, relayUp: relay.up, now });
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  await registerDocs(app, deps.version ?? '0.0.0');

  return app;
}

/**
 * A notification's status with `totals`: how many recipients are in each
 * status, every status named (0 for none), so that a caller needs no count of its own.
 *
 * @example withTotals(status).totals // { queued: 0, sending: 0, sent: 3, …, bounced: 0 }
 */
function withTotals(status: NotificationStatus): NotificationStatus & { totals: Record<DeliveryStatus, number> } {
  const totals = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;
  for (const recipient of status.recipients) totals[recipient.status]++;
  return { ...status, totals };
}

/** Routes an orchestrator calls every few seconds. */
const PROBE_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/**
 * Fastify's request log lines, with the probes' at debug rather than info: a
 * Kubernetes probe every few seconds would otherwise be most of the log.
 */
class ProbesAtDebug extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (PROBE_ROUTES.has(request.routeOptions.url ?? '')) request.log.debug({ req: request }, 'incoming request');
    else super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!error && PROBE_ROUTES.has(request.routeOptions.url ?? '')) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else super.requestCompleted(error, request, reply);
  }
}

/** A read of the outbox; an outbox that cannot answer (Redis down, disk gone) is a 503, not a fault of ours. */
async function outboxRead<T>(request: FastifyRequest, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    request.log.error({ err: error }, 'the outbox could not be read');
    throw new ApiError('OUTBOX_UNAVAILABLE', 'The outbox cannot be read now; retry later');
  }
}

/**
 * What the HTTP parser refuses before fastify sees a request (headers too
 * large, a broken request line, a slow client), in the documented error shape.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new ApiError('HEADERS_TOO_LARGE', 'The request headers are too large')
      : new ApiError('BAD_REQUEST', error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'The request did not arrive in time' : 'The request cannot be read');
  const body = JSON.stringify(apiError.toJSON());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * How many recipients a body not yet validated names: a hint for how many
 * connections to open (bounded by the pool's size), never trusted for more.
 */
function recipientCount(json: unknown): number {
  const recipients = (json as { recipients?: unknown } | null)?.recipients;
  return Array.isArray(recipients) ? recipients.length : 1;
}

/** The first answer to a notification: its id and every recipient queued. */
function acceptedBody(notification: NotificationStatus) {
  return { id: notification.id, recipients: notification.recipients.map((r) => ({ email: r.email, status: 'queued' as const })) };
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

/**
 * JSON with object keys sorted, so that the same body in another key order is the same body.
 * Written by JSON.stringify over the body with its objects' keys put in order (a copy only of
 * what was out of order): a string built value by value took 31–47 ms of a 1600-recipient POST, this 11–19.
 */
function canonicalJson(value: unknown): string {
  return JSON.stringify(keysInOrder(value));
}

/** `value` with every object's keys in sorted order: the value itself where they already are. */
function keysInOrder(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const ordered = keysInOrder(value[i]);
      if (ordered === value[i]) continue;
      copy ??= [...value];
      copy[i] = ordered;
    }
    return copy ?? value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  let copy: Record<string, unknown> | null = null;
  for (let i = 1; i < keys.length && !copy; i++) if (keys[i - 1]! > keys[i]!) copy = {};
  if (copy) keys.sort();
  keys.forEach((key, i) => {
    const ordered = keysInOrder(object[key]);
    // A value that changed makes a copy from here on; the keys before it are copied as they were.
    if (!copy && ordered !== object[key]) copy = Object.fromEntries(keys.slice(0, i).map((k) => [k, object[k]]));
    if (copy) copy[key] = ordered;
  });
  return copy ?? value;
}
