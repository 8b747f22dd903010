/**
 * Writes that arrive in the same turn of the event loop go to storage
 * together: SMTP replies from several connections land in one poll phase,
 * and their outcomes then cost one transaction instead of one each (a commit
 * is most of a small write's cost). A caller's promise settles only once its
 * write is committed, so the worker still hands nothing on before its outcome
 * is stored: the crash promise (at most the pool's messages twice) holds.
 */

/**
 * `commit` gets every item queued since the last commit and returns (or
 * resolves to) a result per item, in order; when it throws or rejects, every
 * caller of that batch gets the error. An asynchronous commit (a round trip
 * to Redis) does not hold up the next batch: items queued meanwhile are
 * committed in the next turn.
 *
 * @example
 * const settle = writeBatch((items) => transaction(db, () => items.map((item) => update.run(item).changes)));
 * const changed = await settle({ id: 7, status: 'sent' });
 */
export function writeBatch<I, R>(commit: (items: readonly I[]) => readonly R[] | Promise<readonly R[]>): (item: I) => Promise<R> {
  let queued: { item: I; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];

  function flush(): void {
    const batch = queued;
    queued = [];
    const fail = (error: unknown) => {
      for (const entry of batch) entry.reject(error);
    };
    const deliver = (results: readonly R[]) => {
      batch.forEach((entry, index) => {
        entry.resolve(results[index]!);
      });
    };
    let results: readonly R[] | Promise<readonly R[]>;
    try {
      results = commit(batch.map((entry) => entry.item));
    } catch (error) {
      fail(error);
      return;
    }
    if (results instanceof Promise) results.then(deliver, fail);
    else deliver(results);
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      if (queued.length === 0) setImmediate(flush);
      queued.push({ item, resolve, reject });
    });
}
