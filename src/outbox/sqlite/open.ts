/**
 * The embedded outbox: SQLite (node:sqlite) in DATA_DIR, one instance per
 * folder. Accepting writes with `synchronous=FULL` in WAL mode, so the commit
 * is on disk before the 202 (a 202 is a promise). Delivery bookkeeping uses a
 * second connection with `synchronous=NORMAL`: in WAL mode that survives a
 * killed process and loses at most the last outcomes on power loss, which
 * costs a resend, never a message. Facts and events: events.ts; RETENTION
 * and erasure: retention.ts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { EventConsumer } from '../events.ts';
import type { Outbox } from '../outbox.ts';
import { SqliteDeliveries } from './deliveries.ts';
import { sqliteEvents } from './events.ts';
import { dataDirFile, lockDataDir, ownerOnlyFile, transaction } from './files.ts';
import { sqliteRetention } from './retention.ts';
import { createSchema } from './schema.ts';
import { deliveryStatements } from './statements.ts';
import { StorageWrites } from './writes.ts';

export interface SqliteOutboxOptions {
  /** The folder of `outbox.sqlite`; created if missing. */
  readonly dataDir: string;
  /** Who hears of deliveries' changes (the webhook dispatcher, the organizer's notices). */
  readonly consumers?: readonly EventConsumer[];
}

/**
 * Opens (or creates) the outbox in `dataDir`. Deliveries a killed process
 * left `sending` are queued again: they may have gone out (a duplicate with
 * the same Message-ID) or not.
 *
 * @throws Error when another running process holds the folder.
 * @example const outbox = openSqliteOutbox({ dataDir: './data' });
 */
export function openSqliteOutbox(options: SqliteOutboxOptions): Outbox {
  // Attendees' names and addresses, request bodies: for the service's user alone (0700, files 0600).
  const file = dataDirFile(options.dataDir, () => {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    return ownerOnlyFile(join(options.dataDir, 'outbox.sqlite'));
  });
  const lock = lockDataDir(options.dataDir);
  // secure_delete: what is deleted (RETENTION, erasure) is overwritten with zeros, not left in free pages.
  const durable = new DatabaseSync(file);
  durable.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;');
  // One transaction, so a new database's tables are written and synced once, not once a statement
  // (opening a new outbox: 8–10 ms before, 5–6 ms after; every fresh DATA_DIR's first start).
  transaction(durable, () => createSchema(durable));
  const work = new DatabaseSync(file);
  work.exec('PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;');
  const now = Date.now();
  // A killed process: what was on the wire may or may not have gone out; leases died with it.
  work.prepare(`UPDATE deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ? WHERE status = 'sending'`).run(now, now);
  work.exec('UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL');

  const sql = deliveryStatements(durable, work);
  const writes = new StorageWrites(options.dataDir);
  const bookkeeping = <T>(run: () => T): T => writes.write(work, run);
  const events = sqliteEvents(work, options.consumers ?? [], bookkeeping);
  const deliveries = new SqliteDeliveries({ durable, work, sql, writes, events });
  const retention = sqliteRetention(work, bookkeeping, (id) => deliveries.forget(id));

  return {
    accept: (notification) => deliveries.accept(notification),
    status: (id) => deliveries.status(id),
    body: (id) => deliveries.body(id),
    claim: (max, now) => deliveries.claim(max, now),
    begin: (deliveryId, at) => deliveries.begin(deliveryId, at),
    settle: (deliveryId, outcome) => deliveries.settle(deliveryId, outcome),
    release: (deliveryIds) => deliveries.release(deliveryIds),
    report: (delivery, report) => deliveries.report(delivery, report),
    counts: () => deliveries.counts(),
    backlog: (now) => deliveries.backlog(now),
    checkWritable: () => deliveries.checkWritable(),
    events: events.queue,
    ...retention,
    async close() {
      work.close();
      durable.close();
      lock.close();
    },
  };
}
