/**
 * Memory for composed messages that is used again once a message has been
 * sent. In a fan-out each message (~45 KB) stays alive while it is on the
 * wire, long enough for V8 to move its buffer to the old generation, where
 * only a full collection frees it: 20–40 MB of sent messages waited for one
 * at the peak (docs/design/own-paths.md). Buffers handed back are written over
 * by the next message instead.
 *
 * Only a message whose bytes nobody reads any more may be handed back: the
 * transport does it (`OutgoingMessage.release`) once the relay has accepted
 * the message, when the pool has written every byte; never after a failure.
 */

export interface MessageBuffers {
  /** A buffer of exactly `size` octets, over memory handed back earlier when there is some large enough. */
  take(size: number): Buffer;
  /** Hands back a buffer `take` gave; a second hand-back of the same buffer, or of a foreign one, does nothing. */
  recycle(raw: Buffer): void;
  /**
   * Takes back memory of a buffer `take` gave that went to another thread and came back (the
   * buffer itself is detached by the move: `raw.buffer` is what travels).
   */
  adopt(memory: ArrayBuffer): void;
}

/** Sizes are rounded up to this, so that messages of one fan-out (a few hundred octets apart) fit each other's memory. */
const GRAIN = 16 * 1024;

/**
 * @example
 * const buffers = messageBuffers(20);
 * const message = await composeMessage(request, email, { ...options, buffers });
 * await transport.send(message); // hands the memory back once the relay accepted it
 */
export function messageBuffers(kept: number): MessageBuffers {
  const free: Buffer[] = [];
  /** What each buffer handed out was cut from; deleted when it comes back, so it comes back once. */
  const cutFrom = new WeakMap<Buffer, Buffer>();
  return {
    take(size: number): Buffer {
      const index = free.findIndex((memory) => memory.length >= size);
      const memory = index >= 0 ? free.splice(index, 1)[0]! : Buffer.allocUnsafeSlow(Math.ceil(size / GRAIN) * GRAIN);
      const raw = memory.subarray(0, size);
      cutFrom.set(raw, memory);
      return raw;
    },
    recycle(raw: Buffer): void {
      const memory = cutFrom.get(raw);
      if (!memory) return;
      cutFrom.delete(raw);
      if (free.length < kept) free.push(memory);
    },
    adopt(memory: ArrayBuffer): void {
      if (free.length < kept && memory.byteLength > 0 && !free.some((b) => b.buffer === memory)) free.push(Buffer.from(memory));
    },
  };
}
