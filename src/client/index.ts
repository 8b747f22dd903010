/**
 * The calendar backend's client of invite-mailer: openapi-fetch typed by the
 * API's OpenAPI document (openapi.ts, made by openapi-typescript), so a
 * request the API would refuse with 422 for its shape does not compile, and
 * each answer's body is typed by its status.
 *
 * @example
 * import { createClient } from 'invite-mailer/client';
 * const client = createClient({ baseUrl: 'http://127.0.0.1:8080', token: process.env.INVITE_MAILER_TOKEN });
 * const { data, error } = await client.POST('/v1/notifications', { body: request, params: { header: { 'Idempotency-Key': key } } });
 * if (error) throw new Error(error.error.message); // 422: error.error.issues name each field
 * const status = await client.GET('/v1/notifications/{id}', { params: { path: { id: data.id } } });
 */
import createFetchClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './openapi.ts';

export type { components, paths };
/** What the backend POSTs to /v1/notifications. */
export type NotificationRequest = components['schemas']['NotificationRequest'];

export interface InviteMailerClientOptions extends ClientOptions {
  /** Where the service answers, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** The service's API_TOKEN, sent as `Authorization: Bearer …` with every request; none when the service has no token. */
  readonly token?: string;
}

/**
 * @example const client = createClient({ baseUrl: 'http://127.0.0.1:8080', token: 'a-token-of-16-chars' });
 */
export function createClient(options: InviteMailerClientOptions): Client<paths> {
  const { token, ...fetchOptions } = options;
  const client = createFetchClient<paths>(fetchOptions);
  if (token) {
    client.use({
      onRequest({ request }) {
        request.headers.set('authorization', `Bearer ${token}`);
        return request;
      },
    });
  }
  return client;
}
