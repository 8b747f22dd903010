/**
 * The API described as OpenAPI 3.1: the request schema generated from the
 * same zod schema that validates requests, the error codes from their
 * registry. @fastify/swagger serves it and Swagger UI shows it (see docs.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { notificationRequestSchema } from '../model/schema.ts';
import { DELIVERY_STATUSES } from '../outbox/outbox.ts';
import { WEBHOOK_EVENT_STATUSES } from '../webhook/event.ts';
import { API_ERRORS } from './errors.ts';

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'issues'],
      properties: {
        code: { type: 'string', enum: Object.keys(API_ERRORS) },
        message: { type: 'string' },
        issues: {
          type: 'array',
          items: { type: 'object', properties: { path: { type: 'string', examples: ['event.conference.joinUrl'] }, message: { type: 'string' } } },
        },
      },
    },
  },
};

/** An object schema whose every property is always in the answer (the status and acceptance answers name every field, null when empty). */
const always = (properties: Record<string, object>, description?: string) => ({
  type: 'object',
  ...(description ? { description } : {}),
  required: Object.keys(properties),
  properties,
});

const accepted = always({
  id: { type: 'string' },
  recipients: { type: 'array', items: always({ email: { type: 'string' }, status: { type: 'string', enum: DELIVERY_STATUSES } }) },
});

const lastReply = {
  ...always({
    code: { type: 'string' },
    responseCode: { type: ['integer', 'null'] },
    response: { type: ['string', 'null'] },
    message: { type: 'string' },
  }),
  type: ['object', 'null'],
};

const deliveryReport = {
  ...always(
    {
      action: { type: 'string', enum: ['failed', 'delayed'] },
      status: { type: ['string', 'null'], description: 'Enhanced status code (RFC 3463), 5.1.1' },
      diagnostic: { type: ['string', 'null'] },
      remoteMta: { type: ['string', 'null'] },
      reportingMta: { type: ['string', 'null'] },
      receivedAt: { type: 'string', format: 'date-time' },
    },
    'The last delivery status notification (RFC 3464) about it: why it bounced, or that it is delayed.',
  ),
  type: ['object', 'null'],
};

const status = always({
  id: { type: 'string' },
  totals: always(
    Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, { type: 'integer' }])),
    'How many recipients are in each status (every status named, 0 for none).',
  ),
  type: { type: 'string' },
  event: always({ uid: { type: 'string' }, sequence: { type: 'integer' } }),
  acceptedAt: { type: 'string', format: 'date-time' },
  deadlineAt: { type: 'string', format: 'date-time' },
  recipients: {
    type: 'array',
    items: always({
      email: { type: 'string' },
      status: { type: 'string', enum: DELIVERY_STATUSES },
      attempts: { type: 'integer' },
      lastReply,
      messageId: { type: ['string', 'null'] },
      queuedAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      sentAt: { type: ['string', 'null'], format: 'date-time' },
      nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
      report: deliveryReport,
    }),
  },
});

const errorResponses = (...codes: (keyof typeof API_ERRORS)[]) =>
  Object.fromEntries(
    [...new Set(codes.map((c) => API_ERRORS[c].status))].map((code) => [
      String(code),
      {
        description: codes
          .filter((c) => API_ERRORS[c].status === code)
          .map((c) => `${c}: ${API_ERRORS[c].meaning}`)
          .join(' '),
        content: { 'application/json': { schema: errorBody } },
      },
    ]),
  );

/** Where the contract's example requests are (examples/README.md describes them). */
const EXAMPLES_DIR = new URL('../../examples/', import.meta.url);

/**
 * Every example request of examples/, as OpenAPI examples: its file name, and
 * as summary its type and title.
 *
 * @example contractExamples()['trueconf-weekly'].summary // 'invitation: Еженедельный статус проекта «Север»'
 */
export function contractExamples(): Record<string, { summary: string; value: unknown }> {
  const examples: Record<string, { summary: string; value: unknown }> = {};
  for (const file of readdirSync(EXAMPLES_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    const value = JSON.parse(readFileSync(new URL(file, EXAMPLES_DIR), 'utf8')) as { type: string; event: { title: string } };
    examples[file.replace(/\.json$/, '')] = { summary: `${value.type}: ${value.event.title}`, value };
  }
  return examples;
}

/** The request's JSON Schema, from the zod schema that validates requests. */
function requestJsonSchema(): object {
  const request = z.toJSONSchema(notificationRequestSchema, { io: 'input', unrepresentable: 'any' });
  delete (request as { $schema?: string }).$schema;
  return request;
}

/**
 * The OpenAPI document served at /openapi.json. The request's schema is made
 * when the document is first read (a getter, kept once made): making it took
 * 6–15 ms of every start, and only the documentation's routes read it.
 */
export function openApiDocument(version: string) {
  let request: object | undefined;
  let examples: Record<string, { summary: string; value: unknown }> | undefined;
  return {
    openapi: '3.1.0',
    info: {
      title: 'invite-mailer',
      version,
      description: 'Renders and sends calendar invitation emails (iMIP), one per recipient, durably. The request contract is examples/README.md.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API_TOKEN; not required when the service runs without one (loopback only).' },
      },
      schemas: {
        get NotificationRequest() {
          request ??= requestJsonSchema();
          return request;
        },
        Accepted: accepted,
        NotificationStatus: status,
        Error: errorBody,
      },
    },
    security: [{ bearer: [] }],
    // OpenAPI 3.1 webhooks: what the service POSTs to WEBHOOK_URL, signed per Standard Webhooks.
    webhooks: {
      deliveryStatus: {
        post: {
          summary: 'A recipient reached a final status, or a delay was reported',
          description:
            'Signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA-256 under WEBHOOK_SECRET). At least once, the same webhook-id on a repeat; per recipient in order. Answer 2xx to take it.',
          parameters: ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ({
            name,
            in: 'header',
            required: true,
            schema: { type: 'string' },
          })),
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    type: { type: 'string', enum: [...WEBHOOK_EVENT_STATUSES].map((s) => `delivery.${s}`) },
                    timestamp: { type: 'string', format: 'date-time' },
                    data: {
                      type: 'object',
                      properties: {
                        notificationId: { type: 'string' },
                        position: { type: 'integer' },
                        recipient: { type: 'string' },
                        status: { type: 'string' },
                        messageId: { type: ['string', 'null'] },
                        lastReply,
                        report: deliveryReport,
                      },
                    },
                  },
                },
              },
            },
          },
          responses: { '2XX': { description: 'Taken; anything else, or no answer in WEBHOOK_TIMEOUT_MS, is retried with backoff' } },
        },
      },
    },
    paths: {
      '/v1/notifications': {
        post: {
          summary: 'Accept a notification: one email per recipient, sent durably',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', maxLength: 255 },
              description: 'The same key with the same body returns the first answer.',
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { $ref: '#/components/schemas/NotificationRequest' },
                // The contract's examples, each one Swagger UI's "Try it out" can send as it is (a 202).
                get examples() {
                  examples ??= contractExamples();
                  return examples;
                },
              },
            },
          },
          responses: {
            '202': {
              description: 'Stored durably; every recipient will be sent or reported.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Accepted' } } },
            },
            ...errorResponses(
              'INVALID_JSON',
              'UNAUTHORIZED',
              'IDEMPOTENCY_IN_PROGRESS',
              'PAYLOAD_TOO_LARGE',
              'UNSUPPORTED_MEDIA_TYPE',
              'INVALID_REQUEST',
              'IDEMPOTENCY_KEY_REUSED',
              'OUTBOX_UNAVAILABLE',
            ),
          },
        },
      },
      '/v1/notifications/{id}': {
        get: {
          summary: "Every recipient's delivery status",
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The notification and its recipients',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/NotificationStatus' } } },
            },
            ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'URL_TOO_LONG', 'OUTBOX_UNAVAILABLE'),
          },
        },
        delete: {
          summary: 'Erase a notification now: its request, recipients, statuses and events (an erasure request under GDPR or 152-ФЗ)',
          description:
            'Recipients not sent yet are never sent; a message already on the wire may still arrive. Its webhook events not yet delivered are dropped. Afterwards the notification answers 404, and its Idempotency-Key is free again.',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '204': { description: 'Erased' },
            ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'URL_TOO_LONG', 'OUTBOX_UNAVAILABLE'),
          },
        },
      },
      '/v1/bounces': {
        post: {
          summary: 'Take a bounce piped in by a mail server (only with BOUNCE_SECRET)',
          requestBody: { required: true, content: { 'message/rfc822': { schema: { type: 'string', format: 'binary' } } } },
          responses: {
            '200': {
              description: 'Read: bounced or noted (a delay) when it named a delivery of ours, else ignored with why',
              content: {
                'application/json': {
                  schema: { type: 'object', properties: { outcome: { type: 'string', enum: ['bounced', 'noted', 'ignored'] }, reason: { type: 'string' } } },
                },
              },
            },
            ...errorResponses('UNAUTHORIZED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'OUTBOX_UNAVAILABLE'),
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness: the process works. `smtp` says whether the relay answers (checked at most every 30 s); it never fails this probe',
          security: [],
          responses: { '200': { description: 'alive' } },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: the outbox takes writes (on Redis: Redis answers). `smtp` reports the relay, and does not fail readiness',
          security: [],
          responses: { '200': { description: 'ready' }, '503': { description: 'not ready, with why' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus text: deliveries by status, counters since start',
          security: [],
          responses: { '200': { description: 'metrics' }, ...errorResponses('OUTBOX_UNAVAILABLE') },
        },
      },
    },
  };
}
