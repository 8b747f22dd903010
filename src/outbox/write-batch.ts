/**
 * Writes that arrive in the same turn of the event loop go to storage
 * together: SMTP replies from several connections land in one poll phase,
 * and their outcomes then cost one transaction instead of one each (a commit
 * is most of a small write's cost). A caller's promise settles only once its
 * write is committed, so the worker still hands nothing on before its outcome
 * is stored: the crash promise (at most the pool's messages twice) holds.
 */

/**
 * `commit` gets every item queued since the last commit and returns a result
 * per item, in order; when it throws, every caller of that batch gets the error.
 *
 * @example
 * const settle = writeBatch((items) => transaction(db, () => items.map((item) => update.run(item).changes)));
 * const changed = await settle({ id: 7, status: 'sent' });
 */
export function writeBatch<I, R>(commit: (items: readonly I[]) => readonly R[]): (item: I) => Promise<R> {
  let queued: { item: I; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];

  function flush(): void {
    const batch = queued;
    queued = [];
    let results: readonly R[];
    try {
      results = commit(batch.map((entry) => entry.item));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    batch.forEach((entry, index) => {
      entry.resolve(results[index]!);
    });
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      if (queued.length === 0) setImmediate(flush);
      queued.push({ item, resolve, reject });
    });
}
