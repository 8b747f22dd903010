/**
 * Writes to the SQLite outbox, with what a failed one says about the disk:
 * a full disk or an I/O error is kept for /readyz until a write succeeds
 * again, or room has been made since (an idle service).
 */
import { statfsSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { isStorageFault, transaction } from './files.ts';

/** Room made on the disk since a write failed that lets /readyz try writing again: a notification of a thousand recipients is about a megabyte. */
const ROOM_MADE_BYTES = 1024 * 1024;

/** @example const writes = new StorageWrites('./data'); writes.write(db, () => insert.run(…)); */
export class StorageWrites {
  /** The last storage fault of a write, with the bytes the disk had free then; cleared by a write that succeeds. */
  #fault: { error: Error; freeBytes: number } | null = null;
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /** A write (in a transaction unless told), with a full disk or an I/O error remembered and reported as itself. */
  write<T>(db: DatabaseSync, work: () => T, how: { transaction: boolean; probe?: boolean } = { transaction: true }): T {
    try {
      const result = how.transaction ? transaction(db, work) : work();
      // A probe's few bytes may fit where a notification's do not (a nearly full disk): it clears nothing.
      if (!how.probe) this.#fault = null;
      return result;
    } catch (error) {
      if (isStorageFault(error)) this.#fault = { error: error as Error, freeBytes: this.#freeBytes() };
      throw error;
    }
  }

  /** Throws the last fault while it stands; else writes the probe. */
  check(probe: () => unknown, db: DatabaseSync): void {
    // A fault stands until a real write succeeds, or the disk has had room made since (an idle service).
    if (this.#fault && this.#freeBytes() > this.#fault.freeBytes + ROOM_MADE_BYTES) this.#fault = null;
    if (this.#fault) throw this.#fault.error;
    this.write(db, probe, { transaction: false, probe: true });
  }

  #freeBytes(): number {
    const disk = statfsSync(this.#dataDir);
    return disk.bavail * disk.bsize;
  }
}
