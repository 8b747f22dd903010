/**
 * The embedded outbox: SQLite (node:sqlite) in DATA_DIR, one instance per
 * folder. Accepting writes with `synchronous=FULL` in WAL mode, so the commit
 * is on disk before the 202 (a 202 is a promise). Delivery bookkeeping uses a
 * second connection with `synchronous=NORMAL`: in WAL mode that survives a
 * killed process and loses at most the last outcomes on power loss, which
 * costs a resend, never a message. Facts and events: events.ts; RETENTION
 * and erasure: retention.ts.
 */
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LRUCache } from 'lru-cache';
import { afterReport, arbitrate, DELIVERY_STATUSES, type DeliveryStatus, FINAL_STATUSES, type Outcome, statusAfter } from '../../delivery/policy.ts';
import type { EventConsumer } from '../events.ts';
import {
  type AcceptOutcome,
  type ClaimedDelivery,
  type NotificationStatus,
  type Outbox,
  type ReportResult,
  StaleDeliveryError,
  statusOfNew,
} from '../outbox.ts';
import { storedReport } from '../report.ts';
import { writeBatch } from '../write-batch.ts';
import { sqliteEvents } from './events.ts';
import { dataDirFile, isStorageFault, lockDataDir, ownerOnlyFile, transaction } from './files.ts';
import { sqliteRetention } from './retention.ts';
import { type DeliveryRow, type NotificationRow, notificationStatus, type OrderedRow, orderedRow, type RivalRow } from './rows.ts';
import { createSchema, OPEN_STATUSES_SQL } from './schema.ts';

/** How many due deliveries a claim looks at per delivery it may hand out (some wait or are superseded). */
const SCAN_FACTOR = 2;

/** Room made on the disk since a write failed that lets /readyz try writing again: a notification of a thousand recipients is about a megabyte. */
const ROOM_MADE_BYTES = 1024 * 1024;

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

  const sql = {
    byKey: durable.prepare('SELECT id, body_hash FROM notifications WHERE idempotency_key = ?'),
    insertNotification: durable.prepare(
      'INSERT INTO notifications (id, idempotency_key, body_hash, type, uid, sequence, body, accepted_at, deadline_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertProgress: durable.prepare('INSERT INTO progress (notification_id, open) VALUES (?, ?)'),
    insertDelivery: durable.prepare(
      `INSERT INTO deliveries (notification_id, position, recipient, order_key, sequence, method, occurrence, status, next_attempt_at, queued_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
    ),
    probe: durable.prepare('INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at'),
    notification: work.prepare('SELECT id, type, uid, sequence, accepted_at, deadline_at FROM notifications WHERE id = ?'),
    deliveriesOf: work.prepare('SELECT * FROM deliveries WHERE notification_id = ? ORDER BY position'),
    due: work.prepare(
      `SELECT id FROM deliveries WHERE status IN ('queued', 'retrying') AND next_attempt_at <= :now AND lease_until IS NULL
       ORDER BY next_attempt_at, id LIMIT :limit`,
    ),
    // Every unfinished delivery that shares an order key with one of the given ids: what the rules weigh.
    rivals: work.prepare(
      `SELECT id, order_key, status, sequence, method, occurrence, next_attempt_at, lease_until FROM deliveries
       WHERE order_key IN (SELECT order_key FROM deliveries WHERE id IN (SELECT value FROM json_each(?)))
         AND status IN (${OPEN_STATUSES_SQL})`,
    ),
    // (.run and a separate read, not UPDATE … RETURNING with .get: after a full disk, node:sqlite's
    // .get on such a statement came back empty although the row had changed.)
    lease: work.prepare('UPDATE deliveries SET lease_until = ? WHERE id = ?'),
    leased: work.prepare('SELECT notification_id, position, recipient, attempts, unconfirmed FROM deliveries WHERE id = ?'),
    wait: work.prepare('UPDATE deliveries SET next_attempt_at = ? WHERE id = ?'),
    supersede: work.prepare(`UPDATE deliveries SET status = 'superseded', updated_at = ?, lease_until = NULL WHERE id = ?`),
    body: work.prepare('SELECT body, accepted_at, deadline_at FROM notifications WHERE id = ?'),
    begin: work.prepare(
      `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ? AND status IN ('queued', 'retrying') AND lease_until IS NOT NULL`,
    ),
    settle: work.prepare(
      `UPDATE deliveries SET status = :status, message_id = COALESCE(:messageId, message_id), last_code = :code, last_response_code = :responseCode,
         last_response = :response, last_message = :message, next_attempt_at = :nextAttemptAt, unconfirmed = unconfirmed + :unconfirmed,
         sent_at = CASE WHEN :status = 'sent' THEN :at ELSE sent_at END, updated_at = :at, lease_until = NULL
       WHERE id = :id AND status = 'sending'`,
    ),
    // One recipient less to wait for; the last one makes the notification final (what RETENTION counts from).
    oneFinal: work.prepare(
      `UPDATE progress SET open = open - 1, final_at = CASE WHEN open = 1 THEN :at ELSE final_at END
       WHERE notification_id = (SELECT notification_id FROM deliveries WHERE id = :delivery)`,
    ),
    // A change to a notification already final (a bounce, a delay report) counts RETENTION from it.
    laterChange: work.prepare(
      'UPDATE progress SET final_at = MAX(final_at, :at) WHERE notification_id = (SELECT notification_id FROM deliveries WHERE id = :delivery) AND final_at IS NOT NULL',
    ),
    release: work.prepare(
      `UPDATE deliveries SET lease_until = NULL, next_attempt_at = MIN(next_attempt_at, ?) WHERE id = ? AND status IN ('queued', 'retrying')`,
    ),
    counts: work.prepare('SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status'),
    byPosition: work.prepare('SELECT id, status, report_action, report_at FROM deliveries WHERE notification_id = ? AND position = ?'),
    report: work.prepare(
      `UPDATE deliveries SET status = :status, report_action = :action, report_status = :reportStatus, report_diagnostic = :diagnostic,
         report_remote_mta = :remoteMta, report_reporting_mta = :reportingMta, report_at = :at, updated_at = :at
       WHERE id = :id AND status = :from`,
    ),
  };

  // Bodies are read at every claim; a notification's body is the same for all its recipients.
  const bodies = new LRUCache<string, { body: string; acceptedAt: number; deadlineAt: number }>({ max: 100 });
  /** The last storage fault of a write, with the bytes the disk had free then; cleared by a write that succeeds. */
  let writeFault: { error: Error; freeBytes: number } | null = null;
  const freeBytes = () => {
    const disk = statfsSync(options.dataDir);
    return disk.bavail * disk.bsize;
  };

  /** A write, with a full disk or an I/O error remembered for checkWritable and reported as itself. */
  function write<T>(db: DatabaseSync, work: () => T, how: { transaction: boolean; probe?: boolean } = { transaction: true }): T {
    try {
      const result = how.transaction ? transaction(db, work) : work();
      // A probe's few bytes may fit where a notification's do not (a nearly full disk): it clears nothing.
      if (!how.probe) writeFault = null;
      return result;
    } catch (error) {
      if (isStorageFault(error)) writeFault = { error: error as Error, freeBytes: freeBytes() };
      throw error;
    }
  }
  const bookkeeping = <T>(run: () => T): T => write(work, run);
  const events = sqliteEvents(work, options.consumers ?? [], bookkeeping);
  const retention = sqliteRetention(work, bookkeeping, (id) => bodies.delete(id));

  /** A delivery reached a final status (inside the caller's transaction): its notification waits for one less. */
  function madeFinal(deliveryId: number, at: number): void {
    sql.oneFinal.run({ delivery: deliveryId, at });
  }

  /** Records one outcome (policy.decide) and what others hear of it; inside the batch's transaction. */
  function settleOne({ id, outcome }: { id: number; outcome: Outcome }): number {
    const { reply } = outcome;
    const status = statusAfter(outcome);
    const changed = sql.settle.run({
      id,
      status,
      messageId: outcome.messageId,
      code: reply.code,
      responseCode: reply.responseCode,
      response: reply.response,
      message: reply.message,
      nextAttemptAt: outcome.kind === 'retrying' ? outcome.nextAttemptAt : outcome.at,
      unconfirmed: outcome.kind === 'retrying' && outcome.unconfirmed ? 1 : 0,
      at: outcome.at,
    }).changes;
    if (changed === 1) {
      if (FINAL_STATUSES.has(status)) madeFinal(id, outcome.at);
      events.record(id, status, null, outcome.at);
    }
    return Number(changed);
  }

  // The status changes of one event-loop turn (what goes on the wire, outcomes) share a transaction,
  // in the order they came (an outcome, then the message its connection takes next) (write-batch.ts):
  // a commit is most of such a write's cost.
  const transitionBatch = writeBatch((items: readonly ({ id: number; at: number } | { id: number; outcome: Outcome })[]) =>
    write(work, () => items.map((item) => ('outcome' in item ? settleOne(item) : Number(sql.begin.run(item.at, item.id).changes)))),
  );

  function bodyOf(notificationId: string) {
    let notification = bodies.get(notificationId);
    if (!notification) {
      const n = sql.body.get(notificationId) as { body: string; accepted_at: number; deadline_at: number };
      notification = { body: n.body, acceptedAt: n.accepted_at, deadlineAt: n.deadline_at };
      bodies.set(notificationId, notification);
    }
    return notification;
  }

  /** Leases, supersedes or puts off each due delivery by the rules (policy.arbitrate); inside the claim's transaction. */
  function claimDue(max: number, now: number): ClaimedDelivery[] {
    const due = (sql.due.all({ now, limit: max * SCAN_FACTOR }) as { id: number }[]).map((r) => r.id);
    if (due.length === 0) return [];
    const byKey = new Map<string, OrderedRow[]>();
    for (const row of sql.rivals.all(JSON.stringify(due)) as unknown as RivalRow[]) {
      const group = byKey.get(row.order_key);
      if (group) group.push(orderedRow(row));
      else byKey.set(row.order_key, [orderedRow(row)]);
    }
    const byId = new Map([...byKey.values()].flat().map((r) => [r.id, r]));
    const claimed: ClaimedDelivery[] = [];
    for (const id of due) {
      if (claimed.length >= max) break;
      const candidate = byId.get(String(id))!;
      const decision = arbitrate(candidate, byKey.get(candidate.orderKey)!, now);
      if (decision.action === 'supersede') {
        sql.supersede.run(now, id);
        candidate.status = 'superseded';
        madeFinal(id, now);
        events.record(id, 'superseded', null, now);
      } else if (decision.action === 'wait') {
        sql.wait.run(decision.until, id);
      } else {
        sql.lease.run(now, id);
        const row = sql.leased.get(id) as { notification_id: string; position: number; recipient: string; attempts: number; unconfirmed: number };
        claimed.push({
          deliveryId: String(id),
          notificationId: row.notification_id,
          position: row.position,
          recipient: row.recipient,
          attempt: row.attempts + 1,
          unconfirmed: row.unconfirmed,
          ...bodyOf(row.notification_id),
        });
      }
    }
    return claimed;
  }

  return {
    events: events.queue,
    ...retention,

    async accept(notification): Promise<AcceptOutcome> {
      const stored = write(durable, (): AcceptOutcome | { kind: 'new' } => {
        if (notification.idempotencyKey !== null) {
          const existing = sql.byKey.get(notification.idempotencyKey) as { id: string; body_hash: string } | undefined;
          if (existing) {
            return existing.body_hash === notification.bodyHash ? { kind: 'replayed', notification: statusOf(existing.id)! } : { kind: 'key-reused' };
          }
        }
        const { event, acceptedAt: at } = notification;
        sql.insertNotification.run(
          notification.id,
          notification.idempotencyKey,
          notification.bodyHash,
          notification.type,
          event.uid,
          event.sequence,
          notification.body,
          at,
          notification.deadlineAt,
        );
        sql.insertProgress.run(notification.id, notification.recipients.length);
        notification.recipients.forEach((recipient, position) => {
          sql.insertDelivery.run(
            notification.id,
            position,
            recipient.email,
            recipient.orderKey,
            event.sequence,
            notification.method,
            event.occurrence,
            at,
            at,
            at,
          );
        });
        return { kind: 'new' };
      });
      if (stored.kind !== 'new') return stored;
      return { kind: 'accepted', notification: statusOfNew(notification) };
    },

    async status(id) {
      return statusOf(id);
    },

    async body(id) {
      return (sql.body.get(id) as { body: string } | undefined)?.body ?? null;
    },

    async claim(max, now) {
      return write(work, () => claimDue(max, now));
    },

    async begin(deliveryId, at) {
      const changed = await transitionBatch({ id: Number(deliveryId), at });
      if (changed !== 1) throw new StaleDeliveryError(`delivery ${deliveryId} is not leased`);
    },

    async settle(deliveryId, outcome) {
      const changed = await transitionBatch({ id: Number(deliveryId), outcome });
      if (changed !== 1) throw new StaleDeliveryError(`delivery ${deliveryId} is not sending`);
    },

    async release(deliveryIds) {
      const at = Date.now();
      write(work, () => {
        for (const id of deliveryIds) sql.release.run(at, Number(id));
      });
    },

    async report(delivery, report) {
      return write(work, (): ReportResult => {
        const row = sql.byPosition.get(delivery.notificationId, delivery.position) as
          | { id: number; status: DeliveryStatus; report_action: 'failed' | 'delayed' | null; report_at: number | null }
          | undefined;
        if (!row) return 'no-such-delivery';
        const previous = row.report_action && row.report_at !== null ? { action: row.report_action, at: row.report_at } : null;
        const effect = afterReport(row.status, report, previous);
        if (effect === 'ignored') return effect;
        sql.report.run({
          id: row.id,
          from: row.status,
          status: effect === 'bounced' ? 'bounced' : row.status,
          action: report.action,
          reportStatus: report.status,
          diagnostic: report.diagnostic,
          remoteMta: report.remoteMta,
          reportingMta: report.reportingMta,
          at: report.at,
        });
        sql.laterChange.run({ delivery: row.id, at: report.at });
        events.record(row.id, effect === 'bounced' ? 'bounced' : 'delayed', storedReport(report), report.at);
        return effect;
      });
    },

    async counts() {
      const counts = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;
      for (const row of sql.counts.all() as { status: DeliveryStatus; n: number }[]) counts[row.status] = row.n;
      return counts;
    },

    async checkWritable() {
      // A fault stands until a real write succeeds, or the disk has had room made since (an idle service).
      if (writeFault && freeBytes() > writeFault.freeBytes + ROOM_MADE_BYTES) writeFault = null;
      if (writeFault) throw writeFault.error;
      write(durable, () => sql.probe.run(Date.now()), { transaction: false, probe: true });
    },

    async close() {
      work.close();
      durable.close();
      lock.close();
    },
  };

  function statusOf(id: string): NotificationStatus | null {
    const row = sql.notification.get(id) as NotificationRow | undefined;
    if (!row) return null;
    return notificationStatus(row, sql.deliveriesOf.all(id) as unknown as DeliveryRow[]);
  }
}
