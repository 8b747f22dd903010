/**
 * Reads bounces in a thread of their own (reader-thread.ts), one message at a
 * time, each within a time budget: a message that takes longer is given up
 * (the thread is stopped, and the next message gets a new one), so that no
 * message, however crafted, holds the service's main thread or the reader for
 * long. The thread starts with the first bounce, and does not keep the
 * process alive.
 */
import { Worker } from 'node:worker_threads';
import { siblingModule } from '../runtime/sibling-module.ts';
import type { Bounce } from './classify.ts';
import type { ReaderAnswer, ReaderRequest } from './reader-thread.ts';

/** How long one message may take to read, by default: a DSN takes a few milliseconds, a megabyte of text ~100 ms. */
export const DEFAULT_READ_BUDGET_MS = 2000;
/** Messages waiting for the reader at most; past that a read is refused for now (the listener answers 451). */
const MAX_WAITING = 64;
/** How long the thread may take to start (loading mailparser), apart from any message's budget. */
const START_TIMEOUT_MS = 15_000;

/** What reading a message came to: what it is, or why it could not be read. */
export type ReadResult = Bounce | { readonly kind: 'unreadable'; readonly reason: string };

export interface BounceReader {
  /**
   * @throws BounceReaderBusyError when MAX_WAITING messages already wait, or the error of a thread that cannot start (try again later).
   */
  read(raw: Uint8Array): Promise<ReadResult>;
  close(): Promise<void>;
}

export interface BounceReaderOptions {
  /** Milliseconds one message may take. Default DEFAULT_READ_BUDGET_MS. */
  readonly budgetMs?: number;
  /** The heap the thread may use, in MB; a message that needs more is unreadable. Default 256. */
  readonly maxHeapMb?: number;
}

/** The reader has more messages waiting than it takes. */
export class BounceReaderBusyError extends Error {
  readonly code = 'EBOUNCEBUSY';
  constructor() {
    super(`the bounce reader has ${MAX_WAITING} messages waiting; try again later`);
    this.name = 'BounceReaderBusyError';
  }
}

interface Job {
  readonly raw: Uint8Array;
  readonly resolve: (result: ReadResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * @example
 * const reader = createBounceReader({ budgetMs: 2000 });
 * const result = await reader.read(raw); // { kind: 'report', … } | { kind: 'auto-reply', … } | { kind: 'unreadable', reason: 'took longer than 2000 ms' } | …
 */
export function createBounceReader(options: BounceReaderOptions = {}): BounceReader {
  const budgetMs = options.budgetMs ?? DEFAULT_READ_BUDGET_MS;
  const waiting: Job[] = [];
  let thread: Promise<Worker> | null = null;
  let busy = false;
  let closed = false;
  let nextId = 1;

  function startThread(): Promise<Worker> {
    const worker = new Worker(siblingModule(import.meta.url, 'reader-thread'), {
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 256 },
    });
    worker.unref();
    return new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`the bounce reader's thread did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const failed = (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(`the bounce reader's thread exited with ${String(error)}`));
      };
      worker.once('error', failed);
      worker.once('exit', failed);
      worker.once('message', (answer: ReaderAnswer) => {
        clearTimeout(timer);
        worker.off('error', failed);
        worker.off('exit', failed);
        if ('ready' in answer) resolve(worker);
        else reject(new Error('the bounce reader thread answered before it was ready'));
      });
    });
  }

  /** Reads one message on the thread, within the budget; the thread is dropped when it fails or overruns. */
  async function readOnThread(raw: Uint8Array): Promise<ReadResult> {
    thread ??= startThread();
    let worker: Worker;
    try {
      worker = await thread;
    } catch (error) {
      // Our fault, not the message's: the caller answers "try later" (451), never "unreadable" (554).
      thread = null;
      throw error;
    }
    const id = nextId++;
    // Its own memory, moved to the thread (a Buffer may be a view of Node's shared pool, which cannot move).
    const copy = new Uint8Array(raw.byteLength);
    copy.set(raw);
    return new Promise<ReadResult>((resolve) => {
      const done = (result: ReadResult, dropThread: boolean) => {
        clearTimeout(timer);
        worker.off('message', answered);
        worker.off('error', failed);
        worker.off('exit', failed);
        if (dropThread) {
          thread = null;
          void worker.terminate();
        }
        resolve(result);
      };
      const answered = (answer: ReaderAnswer) => {
        if (!('id' in answer) || answer.id !== id) return;
        done('bounce' in answer ? answer.bounce : { kind: 'unreadable', reason: `not MIME mail mailparser can read: ${answer.error}` }, false);
      };
      const failed = (error: unknown) =>
        done({ kind: 'unreadable', reason: `the reader's thread stopped: ${error instanceof Error ? error.message : `exit ${String(error)}`}` }, true);
      const timer = setTimeout(() => done({ kind: 'unreadable', reason: `took longer than ${budgetMs} ms to read` }, true), budgetMs);
      worker.on('message', answered);
      worker.once('error', failed);
      worker.once('exit', failed);
      worker.postMessage({ id, raw: copy } satisfies ReaderRequest, [copy.buffer]);
    });
  }

  async function drain(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      for (let job = waiting.shift(); job; job = waiting.shift()) await readOnThread(job.raw).then(job.resolve, job.reject);
    } finally {
      busy = false;
    }
  }

  return {
    read(raw) {
      if (closed) return Promise.resolve({ kind: 'unreadable', reason: 'the bounce reader is closed' });
      if (waiting.length >= MAX_WAITING) return Promise.reject(new BounceReaderBusyError());
      return new Promise<ReadResult>((resolve, reject) => {
        waiting.push({ raw, resolve, reject });
        void drain();
      });
    },
    async close() {
      closed = true;
      for (const job of waiting.splice(0)) job.resolve({ kind: 'unreadable', reason: 'the bounce reader is closed' });
      const current = thread;
      thread = null;
      if (current)
        await current.then(
          (worker) => worker.terminate(),
          () => undefined,
        );
    },
  };
}
