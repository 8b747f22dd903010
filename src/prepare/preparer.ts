/**
 * Where claimed deliveries are rendered and composed: on RENDER_THREADS
 * threads (piscina), so that the main thread keeps to the network and the
 * outbox and an instance's rate grows with its cores; or, with
 * RENDER_THREADS=0, on the main thread itself (a one-core machine, where a
 * thread would only add the copying). Both give the same bytes
 * (test/prepare/preparer.test.ts).
 *
 * A task's messages come back in its order; a task's memory is moved, not
 * copied, each way: the request's text to the threads once per notification
 * (a SharedArrayBuffer every task names), each message to the main thread,
 * and each message's memory back to the threads once the relay took it.
 */
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import type { Piscina } from 'piscina';
import type { MessageOptions, OutgoingMessage } from '../message/compose.ts';
import type { Renderer, RendererOptions } from '../render/renderer.ts';
import { siblingModule } from '../runtime/sibling-module.ts';
import { type DkimSetting, type PreparationProblem, type Prepared, type PrepareTask, preparationOf } from './preparation.ts';

/** A delivery's message, or why there is none. */
export type Ready = { readonly kind: 'message'; readonly message: OutgoingMessage } | PreparationProblem;

export interface Preparer {
  /** Each delivery's message (`release` hands its memory back once the relay took it) or problem, in the task's order. */
  prepare(task: PrepareTask): Promise<Ready[]>;
  /** Tasks worth having in progress at once: one per thread and one waiting for the first free (1 on the calling thread). */
  readonly capacity: number;
  /** Ends the threads; tasks not yet answered fail. */
  close(): Promise<void>;
}

export interface PreparerOptions {
  /** Rendering threads; 0: on the calling thread. */
  readonly threads: number;
  /** The renderer the calling thread uses (threads: 0). */
  readonly renderer: Renderer;
  /** How each thread makes its own (threads > 0). */
  readonly rendererOptions: RendererOptions;
  readonly message: Omit<MessageOptions, 'date' | 'buffers'>;
  /** Messages whose memory is kept for the next ones, per thread: those on the wire, and as many again. */
  readonly keptMessages: number;
  /** DKIM keys: messages are signed where they are composed (the transport sends them as they are). */
  readonly dkim?: DkimSetting;
  /** Told once per From domain that had no key of its own: `signedAs` the service domain, or null (sent unsigned). */
  readonly onDkimFallback?: (fromDomain: string, signedAs: string | null) => void;
}

/** A task asked of a preparer after close(): its threads are not started again. */
export class PreparerClosedError extends Error {
  readonly code = 'EPREPARERCLOSED';
  constructor() {
    super('the rendering threads are closed');
    this.name = 'PreparerClosedError';
  }
}

/** What each thread is started with (thread.ts). */
export interface ThreadData {
  readonly renderer: RendererOptions;
  readonly message: Omit<MessageOptions, 'date' | 'buffers'>;
  readonly keptMessages: number;
  readonly dkim?: DkimSetting;
}

/** One task for a thread, with memory of sent messages handed back to it. */
export interface ThreadTask {
  readonly task: PrepareTask;
  readonly recycled: ArrayBuffer[];
}

/**
 * @example
 * const preparer = createPreparer({ threads: 1, renderer, rendererOptions, message: messageOptionsOf(config), keptMessages: 10 });
 * for (const ready of await preparer.prepare({ notificationId, body, acceptedAt, deliveries })) if (ready.kind === 'message') await transport.send(ready.message);
 */
export function createPreparer(options: PreparerOptions): Preparer {
  return options.threads > 0 ? threadPreparer(options) : callingThreadPreparer(options);
}

function callingThreadPreparer(options: PreparerOptions): Preparer {
  const preparation = preparationOf(options.renderer, options.message, options.keptMessages, options.dkim);
  const ready = readier(options);
  return {
    capacity: 1,
    async prepare(task) {
      return (await preparation.prepare(task)).map((prepared) => ready(prepared, (memory) => preparation.recycle([memory])));
    },
    async close() {},
  };
}

function threadPreparer(options: PreparerOptions): Preparer {
  const data: ThreadData = {
    renderer: options.rendererOptions,
    message: options.message,
    keptMessages: options.keptMessages,
    ...(options.dkim ? { dkim: options.dkim } : {}),
  };
  const ready = readier(options);
  // Imported only when threads are asked for: a service rendering on its main thread does not load piscina (~10 ms).
  const pool: Promise<Piscina<ThreadTask, Prepared[]>> = import('piscina').then(
    ({ Piscina }) =>
      new Piscina<ThreadTask, Prepared[]>({
        filename: fileURLToPath(siblingModule(import.meta.url, 'thread')),
        minThreads: options.threads,
        maxThreads: options.threads,
        idleTimeout: Number.POSITIVE_INFINITY,
        workerData: data,
      }),
  );
  pool.catch(() => undefined); // a failure is each task's to report (ERENDER), not the process's
  /** Requests' text as shared memory, while their deliveries are prepared (copied once, read by every thread). */
  const bodies = new LRUCache<string, SharedArrayBuffer>({ max: 64, maxSize: 64 * 1024 * 1024, sizeCalculation: (b) => Math.max(1, b.byteLength) });
  /** Memory of sent messages, going back to the threads with the next task. */
  let sent: ArrayBuffer[] = [];
  let closed = false;

  function sharedBody(task: PrepareTask): SharedArrayBuffer {
    if (typeof task.body !== 'string') return task.body;
    let shared = bodies.get(task.notificationId);
    if (!shared) {
      shared = new SharedArrayBuffer(Buffer.byteLength(task.body));
      Buffer.from(shared).write(task.body);
      bodies.set(task.notificationId, shared);
    }
    return shared;
  }

  return {
    capacity: options.threads + 1,
    async prepare(task) {
      if (closed) throw new PreparerClosedError();
      const recycled = sent.splice(0, options.keptMessages);
      const answer = await (await pool).run({ task: { ...task, body: sharedBody(task) }, recycled }, { transferList: recycled });
      return answer.map((prepared) =>
        ready(
          // Across threads a Buffer arrives as the Uint8Array it is.
          prepared.kind === 'message' ? { ...prepared, raw: Buffer.from(prepared.raw.buffer, prepared.raw.byteOffset, prepared.raw.byteLength) } : prepared,
          (memory) => {
            if (sent.length < options.keptMessages * options.threads) sent.push(memory);
          },
        ),
      );
    },
    async close() {
      closed = true;
      sent = [];
      await (await pool).close();
    },
  };
}

/**
 * Makes the transport's message of each prepared one: marked signed when the preparer signs, its
 * memory handed back once (the relay took it: no byte of it is read again), and each From domain
 * without a key told of once, whichever thread met it first.
 */
function readier(options: PreparerOptions): (prepared: Prepared, handBack: (memory: ArrayBuffer) => void) => Ready {
  const signed = Boolean(options.dkim?.keys.length);
  const told = new Set<string>();
  return (prepared, handBack) => {
    if (prepared.kind === 'problem') return prepared;
    const fallback = prepared.dkimFallback;
    if (fallback && !told.has(fallback.fromDomain)) {
      told.add(fallback.fromDomain);
      options.onDkimFallback?.(fallback.fromDomain, fallback.signedAs);
    }
    const { raw } = prepared;
    let handedBack = false;
    const release = () => {
      if (handedBack) return;
      handedBack = true;
      handBack(raw.buffer as ArrayBuffer);
    };
    return { kind: 'message', message: { from: prepared.from, envelope: prepared.envelope, messageId: prepared.messageId, raw, signed, release } };
  };
}
