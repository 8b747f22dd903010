/**
 * The bounce reader's thread (reader.ts): reads each message it is handed
 * (read.ts) and answers with what it is. Parsing untrusted mail here keeps
 * it off the service's main thread, where the API, the delivery worker and
 * the webhooks run, and lets reader.ts stop a message that takes too long.
 */
import { parentPort } from 'node:worker_threads';
import { readBounce } from './read.ts';

export interface ReaderRequest {
  readonly id: number;
  readonly raw: Uint8Array;
}

export type ReaderAnswer =
  | { readonly ready: true }
  | { readonly id: number; readonly bounce: Awaited<ReturnType<typeof readBounce>> }
  | { readonly id: number; readonly error: string };

const port = parentPort!;
port.on('message', (request: ReaderRequest) => {
  readBounce(request.raw).then(
    (bounce) => port.postMessage({ id: request.id, bounce } satisfies ReaderAnswer),
    (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies ReaderAnswer),
  );
});
port.postMessage({ ready: true } satisfies ReaderAnswer);
