/**
 * The embedded outbox: SQLite (node:sqlite) in DATA_DIR, one instance per
 * folder. Accepting writes with `synchronous=FULL` in WAL mode, so the commit
 * is on disk before the 202 (a 202 is a promise). Delivery bookkeeping uses a
 * second connection with `synchronous=NORMAL`: in WAL mode that survives a
 * killed process and loses at most the last outcomes on power loss, which
 * costs a resend, never a message.
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { calendarMethod } from '../calendar/calendar.ts';
import {
  DELIVERY_STATUSES,
  orderKey,
  type AcceptOutcome,
  type ClaimedDelivery,
  type DeliveryRecord,
  type DeliveryStatus,
  type LastReply,
  type NewNotification,
  type NotificationStatus,
  type Outbox,
} from './outbox.ts';

/** How long a claimed delivery is the claimer's before another may take it (a hung worker). */
const LEASE_MS = 5 * 60_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notifications (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT UNIQUE,
  body_hash TEXT NOT NULL,
  type TEXT NOT NULL,
  uid TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  body TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  deadline_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id TEXT NOT NULL REFERENCES notifications(id),
  position INTEGER NOT NULL,
  recipient TEXT NOT NULL,
  order_key TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  method TEXT NOT NULL,
  occurrence TEXT,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER,
  last_code TEXT,
  last_response_code INTEGER,
  last_response TEXT,
  last_message TEXT,
  message_id TEXT,
  queued_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(status, next_attempt_at, id);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries(order_key, sequence, id);
CREATE INDEX IF NOT EXISTS deliveries_notification ON deliveries(notification_id, position);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
`;

export interface SqliteOutboxOptions {
  /** The folder of `outbox.sqlite`; created if missing. */
  readonly dataDir: string;
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
  mkdirSync(options.dataDir, { recursive: true });
  const releaseLock = lockDataDir(options.dataDir);
  const file = join(options.dataDir, 'outbox.sqlite');
  const durable = new DatabaseSync(file);
  durable.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
  durable.exec(SCHEMA);
  const work = new DatabaseSync(file);
  work.exec('PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
  const now = Date.now();
  work.prepare(`UPDATE deliveries SET status = 'queued', lease_until = NULL, next_attempt_at = ?, updated_at = ? WHERE status = 'sending'`).run(now, now);

  const sql = {
    byKey: durable.prepare('SELECT id, body_hash FROM notifications WHERE idempotency_key = ?'),
    insertNotification: durable.prepare(
      'INSERT INTO notifications (id, idempotency_key, body_hash, type, uid, sequence, body, accepted_at, deadline_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertDelivery: durable.prepare(
      `INSERT INTO deliveries (notification_id, position, recipient, order_key, sequence, method, occurrence, status, next_attempt_at, queued_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
    ),
    probe: durable.prepare('INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at'),
    notification: work.prepare('SELECT id, type, uid, sequence, accepted_at, deadline_at FROM notifications WHERE id = ?'),
    deliveriesOf: work.prepare('SELECT * FROM deliveries WHERE notification_id = ? ORDER BY position'),
    supersede: work.prepare(
      `UPDATE deliveries AS d SET status = 'superseded', updated_at = :now
       WHERE d.status IN ('queued', 'retrying') AND d.method = 'REQUEST'
         AND EXISTS (SELECT 1 FROM deliveries n WHERE n.order_key = d.order_key AND n.id <> d.id
           AND (n.sequence > d.sequence OR (n.sequence = d.sequence AND n.id > d.id))
           AND n.method IN ('REQUEST', 'CANCEL') AND (n.occurrence IS NULL OR n.occurrence IS d.occurrence))`,
    ),
    due: work.prepare(
      `SELECT d.id FROM deliveries d
       WHERE ((d.status IN ('queued', 'retrying') AND d.next_attempt_at <= :now) OR (d.status = 'sending' AND d.lease_until <= :now))
         AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.order_key = d.order_key AND o.id <> d.id
           AND o.status IN ('queued', 'sending', 'retrying')
           AND (o.sequence < d.sequence OR (o.sequence = d.sequence AND o.id < d.id)))
       ORDER BY d.next_attempt_at, d.id LIMIT :max`,
    ),
    take: work.prepare(
      `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ? WHERE id = ?
       RETURNING id, notification_id, recipient, attempts`,
    ),
    body: work.prepare('SELECT body, accepted_at, deadline_at FROM notifications WHERE id = ?'),
    sent: work.prepare(
      `UPDATE deliveries SET status = 'sent', message_id = ?, last_code = 'OK', last_response_code = ?, last_response = ?, last_message = NULL,
       sent_at = ?, updated_at = ?, lease_until = NULL WHERE id = ?`,
    ),
    failure: work.prepare(
      `UPDATE deliveries SET status = ?, message_id = COALESCE(?, message_id), last_code = ?, last_response_code = ?, last_response = ?, last_message = ?,
       next_attempt_at = ?, updated_at = ?, lease_until = NULL WHERE id = ?`,
    ),
    release: work.prepare(`UPDATE deliveries SET status = 'queued', attempts = attempts - 1, lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'sending'`),
    counts: work.prepare('SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status'),
  };

  // Bodies are read at every claim; a notification's body is the same for all its recipients.
  const bodies = new Map<string, { body: string; acceptedAt: number; deadlineAt: number }>();

  function statusOf(id: string): NotificationStatus | null {
    const row = sql.notification.get(id) as NotificationRow | undefined;
    if (!row) return null;
    return {
      id: row.id,
      type: row.type as NotificationStatus['type'],
      event: { uid: row.uid, sequence: row.sequence },
      acceptedAt: iso(row.accepted_at)!,
      deadlineAt: iso(row.deadline_at)!,
      recipients: (sql.deliveriesOf.all(id) as unknown as DeliveryRow[]).map(deliveryRecord),
    };
  }

  function transaction<T>(db: DatabaseSync, work: () => T): T {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }

  function failure(id: string, status: DeliveryStatus, messageId: string | null, reply: LastReply, nextAttemptAt: number, at: number) {
    sql.failure.run(status, messageId, reply.code, reply.responseCode, reply.response, reply.message, nextAttemptAt, at, Number(id));
  }

  return {
    async accept(notification: NewNotification): Promise<AcceptOutcome> {
      const stored = transaction(durable, (): AcceptOutcome | { kind: 'new' } => {
        if (notification.idempotencyKey !== null) {
          const existing = sql.byKey.get(notification.idempotencyKey) as { id: string; body_hash: string } | undefined;
          if (existing) {
            return existing.body_hash === notification.bodyHash ? { kind: 'replayed', notification: statusOf(existing.id)! } : { kind: 'key-reused' };
          }
        }
        const { request } = notification;
        const method = calendarMethod(request.type);
        sql.insertNotification.run(
          notification.id,
          notification.idempotencyKey,
          notification.bodyHash,
          request.type,
          request.event.uid,
          request.event.sequence,
          notification.body,
          notification.acceptedAt,
          notification.deadlineAt,
        );
        notification.recipients.forEach((recipient, position) => {
          sql.insertDelivery.run(
            notification.id,
            position,
            recipient,
            orderKey(request, recipient),
            request.event.sequence,
            method,
            request.event.occurrence ?? null,
            notification.acceptedAt,
            notification.acceptedAt,
            notification.acceptedAt,
          );
        });
        return { kind: 'new' };
      });
      if (stored.kind !== 'new') return stored;
      return { kind: 'accepted', notification: statusOf(notification.id)! };
    },

    async status(id: string): Promise<NotificationStatus | null> {
      return statusOf(id);
    },

    async claim(max: number, now: number): Promise<ClaimedDelivery[]> {
      return transaction(work, () => {
        sql.supersede.run({ now });
        const ids = (sql.due.all({ now, max }) as { id: number }[]).map((r) => r.id);
        const claimed: ClaimedDelivery[] = [];
        for (const id of ids) {
          const row = sql.take.get(now + LEASE_MS, now, id) as { id: number; notification_id: string; recipient: string; attempts: number };
          let notification = bodies.get(row.notification_id);
          if (!notification) {
            const n = sql.body.get(row.notification_id) as { body: string; accepted_at: number; deadline_at: number };
            notification = { body: n.body, acceptedAt: n.accepted_at, deadlineAt: n.deadline_at };
            if (bodies.size > 100) bodies.delete(bodies.keys().next().value!);
            bodies.set(row.notification_id, notification);
          }
          claimed.push({ deliveryId: String(row.id), notificationId: row.notification_id, recipient: row.recipient, attempt: row.attempts, ...notification });
        }
        return claimed;
      });
    },

    async markSent(deliveryId, { messageId, response, at }) {
      sql.sent.run(messageId, Number(/^\d{3}/.exec(response)?.[0] ?? 250), response, at, at, Number(deliveryId));
    },

    async markRetrying(deliveryId, { messageId, reply, nextAttemptAt, at }) {
      failure(deliveryId, 'retrying', messageId, reply, nextAttemptAt, at);
    },

    async markFinalFailure(deliveryId, { status, messageId, reply, at }) {
      failure(deliveryId, status, messageId, reply, at, at);
    },

    async release(deliveryIds) {
      const at = Date.now();
      transaction(work, () => {
        for (const id of deliveryIds) sql.release.run(at, Number(id));
      });
    },

    async counts() {
      const counts = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;
      for (const row of sql.counts.all() as { status: DeliveryStatus; n: number }[]) counts[row.status] = row.n;
      return counts;
    },

    async checkWritable() {
      sql.probe.run(Date.now());
    },

    async close() {
      work.close();
      durable.close();
      releaseLock();
    },
  };
}

interface NotificationRow {
  id: string;
  type: string;
  uid: string;
  sequence: number;
  accepted_at: number;
  deadline_at: number;
}

interface DeliveryRow {
  recipient: string;
  status: DeliveryStatus;
  attempts: number;
  last_code: string | null;
  last_response_code: number | null;
  last_response: string | null;
  last_message: string | null;
  message_id: string | null;
  queued_at: number;
  updated_at: number;
  sent_at: number | null;
  next_attempt_at: number;
}

function deliveryRecord(row: DeliveryRow): DeliveryRecord {
  return {
    email: row.recipient,
    status: row.status,
    attempts: row.attempts,
    lastReply: row.last_code === null ? null : { code: row.last_code, responseCode: row.last_response_code, response: row.last_response, message: row.last_message ?? row.last_response ?? '' },
    messageId: row.message_id,
    queuedAt: iso(row.queued_at)!,
    updatedAt: iso(row.updated_at)!,
    sentAt: iso(row.sent_at),
    nextAttemptAt: row.status === 'queued' || row.status === 'retrying' ? iso(row.next_attempt_at) : null,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

const heldLocks = new Set<string>();

/**
 * One process per DATA_DIR: two would resend each other's deliveries. A lock
 * file names the holder; a lock left by a killed process is taken over (also
 * when a restarted container gets the same pid again).
 */
function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'outbox.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldLocks.add(path);
      return () => {
        heldLocks.delete(path);
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(path, 'utf8').trim());
      const heldHere = holder === process.pid && heldLocks.has(path);
      if (heldHere || (holder && holder !== process.pid && isAlive(holder))) {
        throw new Error(`DATA_DIR ${dataDir} is in use by process ${holder}; run one instance per DATA_DIR (QUEUE_URL for several)`);
      }
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new Error(`cannot lock DATA_DIR ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
