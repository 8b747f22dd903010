/**
 * A rendering thread (threads.ts starts RENDER_THREADS of them with piscina):
 * loads the templates and locales once, then prepares the tasks it is given
 * and moves each message's memory to the main thread rather than copying it.
 */
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { createRenderer } from '../render/renderer.ts';
import { type Prepared, type PrepareTask, preparationOf } from './preparation.ts';
import type { ThreadData, ThreadTask } from './preparer.ts';

const data = workerData as ThreadData;
/** Started as the thread starts, so that the first task finds the templates loaded. */
const preparation = createRenderer(data.renderer).then((renderer) => preparationOf(renderer, data.message, data.keptMessages, data.dkim));
// A failure here is each task's to report (ERENDER); this only keeps it from ending the thread first.
preparation.catch(() => undefined);

/** The answer to a task: the prepared messages, their memory moved (piscina's Transferable). */
class MovedMessages {
  readonly #prepared: Prepared[];
  constructor(prepared: Prepared[]) {
    this.#prepared = prepared;
  }
  get [transferableSymbol](): ArrayBuffer[] {
    return this.#prepared.flatMap((p) => (p.kind === 'message' ? [p.raw.buffer as ArrayBuffer] : []));
  }
  get [valueSymbol](): Prepared[] {
    return this.#prepared;
  }
}

/**
 * @example await pool.run({ task, recycled: [] }) // Prepared[], each message's `raw` a Uint8Array over moved memory
 */
export default async function prepareInThread({ task, recycled }: ThreadTask): Promise<unknown> {
  const ready = await preparation;
  ready.recycle(recycled);
  return move(new MovedMessages(await ready.prepare(task satisfies PrepareTask)));
}
