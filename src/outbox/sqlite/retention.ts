/**
 * RETENTION and erasure in the SQLite outbox: a notification is deleted with
 * its deliveries, facts and events in one transaction. `secure_delete` (set
 * on every connection, open.ts) overwrites what is deleted with zeros, and a
 * checkpoint that truncates the write-ahead log takes the old pages out of
 * it: nothing of the notification is left in any file under DATA_DIR.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Removed, Retention } from '../outbox.ts';
import type { Write } from './events.ts';

/** @example const retention = sqliteRetention(work, write, (id) => bodies.delete(id)); await retention.purge(Date.now() - 30 * 86_400_000, 100); */
export function sqliteRetention(db: DatabaseSync, write: Write, forget: (id: string) => void): Retention {
  const sql = {
    finalBefore: db.prepare('SELECT notification_id AS id FROM progress WHERE final_at IS NOT NULL AND final_at <= ? ORDER BY final_at LIMIT ?'),
    exists: db.prepare('SELECT 1 AS found FROM notifications WHERE id = ?'),
    undelivered: db.prepare('SELECT consumer, COUNT(*) AS n FROM events WHERE notification_id = ? GROUP BY consumer'),
    events: db.prepare('DELETE FROM events WHERE notification_id = ?'),
    facts: db.prepare('DELETE FROM facts WHERE notification_id = ?'),
    deliveries: db.prepare('DELETE FROM deliveries WHERE notification_id = ?'),
    notification: db.prepare('DELETE FROM notifications WHERE id = ?'),
    progress: db.prepare('DELETE FROM progress WHERE notification_id = ?'),
  };

  function remove(ids: readonly string[]): Removed {
    const undeliveredEvents: Record<string, number> = {};
    for (const id of ids) {
      for (const row of sql.undelivered.all(id) as { consumer: string; n: number }[]) {
        undeliveredEvents[row.consumer] = (undeliveredEvents[row.consumer] ?? 0) + row.n;
      }
      sql.events.run(id);
      sql.facts.run(id);
      sql.deliveries.run(id);
      sql.notification.run(id);
      sql.progress.run(id);
    }
    return { notifications: ids.length, undeliveredEvents };
  }

  /** The old pages leave the write-ahead log (they hold what was deleted until it is checkpointed). */
  function truncateLog(): void {
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
  }

  function removed(ids: readonly string[]): Removed {
    const result = write(() => remove(ids));
    for (const id of ids) forget(id);
    if (ids.length > 0) truncateLog();
    return result;
  }

  return {
    async purge(finalBefore, max) {
      const ids = (sql.finalBefore.all(finalBefore, max) as { id: string }[]).map((row) => row.id);
      return removed(ids);
    },
    async erase(id) {
      if (!sql.exists.get(id)) return null;
      return removed([id]);
    },
  };
}
