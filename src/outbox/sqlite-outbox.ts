/**
 * The embedded outbox: SQLite (node:sqlite) in DATA_DIR, one instance per
 * folder. Accepting writes with `synchronous=FULL` in WAL mode, so the commit
 * is on disk before the 202 (a 202 is a promise). Delivery bookkeeping uses a
 * second connection with `synchronous=NORMAL`: in WAL mode that survives a
 * killed process and loses at most the last outcomes on power loss, which
 * costs a resend, never a message.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { LRUCache } from 'lru-cache';
import {
  afterReport,
  arbitrate,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  FINAL_STATUSES,
  type OrderedDelivery,
  type Outcome,
  statusAfter,
  UNDELIVERED_STATUSES,
} from '../delivery/policy.ts';
import type { CalendarMethod } from '../model/itip-method.ts';
import { WEBHOOK_EVENT_STATUSES, webhookPayload } from '../webhook/event.ts';
import { newWebhookId } from '../webhook/webhook-id.ts';
import {
  type AcceptOutcome,
  type ClaimedDelivery,
  type DeliveryRecord,
  type LastReply,
  type NewNotification,
  type NoticeBatch,
  type NotificationStatus,
  type Outbox,
  type ReportResult,
  StaleDeliveryError,
  type StoredReport,
  statusOfNew,
} from './outbox.ts';
import { storedReport } from './report.ts';
import { writeBatch } from './write-batch.ts';

/** How many due deliveries a claim looks at per delivery it may hand out (some wait or are superseded). */
const SCAN_FACTOR = 2;

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
  unconfirmed INTEGER NOT NULL DEFAULT 0,
  report_action TEXT,
  report_status TEXT,
  report_diagnostic TEXT,
  report_remote_mta TEXT,
  report_reporting_mta TEXT,
  report_at INTEGER,
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
CREATE TABLE IF NOT EXISTS webhook_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id TEXT,
  recipient_key TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS webhook_events_recipient ON webhook_events(recipient_key, id);
CREATE TABLE IF NOT EXISTS organizer_notices (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS organizer_notices_notification ON organizer_notices(notification_id, id);
`;

export interface SqliteOutboxOptions {
  /** The folder of `outbox.sqlite`; created if missing. */
  readonly dataDir: string;
  /** Store a webhook event with every change to a final status and every delay report (WEBHOOK_URL). */
  readonly webhooks?: boolean;
  /** Store each undelivered recipient for a notice to the organizer (NOTIFY_ORGANIZER), due this long after the first. */
  readonly notices?: { readonly windowMs: number };
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
  const durable = new DatabaseSync(file);
  durable.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
  // One transaction, so a new database's tables are written and synced once, not once a statement
  // (opening a new outbox: 8–10 ms before, 5–6 ms after; every fresh DATA_DIR's first start).
  transaction(durable, () => {
    durable.exec(SCHEMA);
    migrate(durable);
  });
  const work = new DatabaseSync(file);
  work.exec('PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
  const now = Date.now();
  // A killed process: what was on the wire may or may not have gone out; leases died with it.
  work.prepare(`UPDATE deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ? WHERE status = 'sending'`).run(now, now);
  work.exec('UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL');

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
    due: work.prepare(
      `SELECT id FROM deliveries WHERE status IN ('queued', 'retrying') AND next_attempt_at <= :now AND lease_until IS NULL
       ORDER BY next_attempt_at, id LIMIT :limit`,
    ),
    // Every unfinished delivery that shares an order key with one of the given ids: what the rules weigh.
    rivals: work.prepare(
      `SELECT id, order_key, status, sequence, method, occurrence, next_attempt_at, lease_until FROM deliveries
       WHERE order_key IN (SELECT order_key FROM deliveries WHERE id IN (SELECT value FROM json_each(?)))
         AND status IN ('queued', 'retrying', 'sending')`,
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
    addWebhook: work.prepare('INSERT INTO webhook_events (webhook_id, recipient_key, payload, next_attempt_at) VALUES (?, ?, ?, ?)'),
    // Oldest first, stopping at :max: each candidate is checked to be its recipient's oldest by an
    // index probe, rather than every event being compared with every other (which cost the fan-out 30%).
    dueWebhooks: work.prepare(
      `SELECT e.id, e.webhook_id, e.recipient_key, e.payload, e.attempts FROM webhook_events e
       WHERE e.next_attempt_at <= :now AND (e.lease_until IS NULL OR e.lease_until <= :now)
         AND NOT EXISTS (SELECT 1 FROM webhook_events f WHERE f.recipient_key = e.recipient_key AND f.id < e.id)
       ORDER BY e.id LIMIT :max`,
    ),
    leaseWebhook: work.prepare('UPDATE webhook_events SET lease_until = ?, attempts = attempts + 1 WHERE id = ?'),
    dropWebhook: work.prepare('DELETE FROM webhook_events WHERE webhook_id = ?'),
    retryWebhook: work.prepare('UPDATE webhook_events SET lease_until = NULL, next_attempt_at = ? WHERE webhook_id = ?'),
    addNotice: work.prepare('INSERT INTO organizer_notices (notification_id, payload, due_at) VALUES (?, ?, ?)'),
    // A notification's notice is due when its first failure's window has passed and no one holds it.
    dueNotices: work.prepare(
      `SELECT notification_id, MAX(id) AS through FROM organizer_notices GROUP BY notification_id
       HAVING MIN(due_at) <= :now AND MAX(COALESCE(lease_until, 0)) <= :now ORDER BY MIN(id) LIMIT :max`,
    ),
    leaseNotice: work.prepare('UPDATE organizer_notices SET lease_until = ?, attempts = attempts + 1 WHERE notification_id = ? AND id <= ?'),
    noticeEntries: work.prepare('SELECT payload, attempts FROM organizer_notices WHERE notification_id = ? AND id <= ? ORDER BY id'),
    dropNotice: work.prepare('DELETE FROM organizer_notices WHERE notification_id = ? AND id <= ?'),
    retryNotice: work.prepare('UPDATE organizer_notices SET lease_until = NULL, due_at = ? WHERE notification_id = ? AND id <= ?'),
    deliveryFacts: work.prepare(
      'SELECT notification_id, position, recipient, message_id, last_code, last_response_code, last_response, last_message FROM deliveries WHERE id = ?',
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
  /** The last write that failed for want of room or I/O, until a write succeeds again (for /readyz). */
  /** The last storage fault of a write, with the bytes the disk had free then; cleared by a write that succeeds. */
  let writeFault: { error: Error; freeBytes: number } | null = null;
  const freeBytes = () => {
    const disk = statfsSync(options.dataDir);
    return disk.bavail * disk.bsize;
  };

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

  /**
   * What others hear of a delivery's change (inside the caller's transaction): a
   * webhook event, and for an undelivered recipient a failure for the organizer's notice.
   */
  function recordEvent(deliveryId: number, status: DeliveryStatus | 'delayed', report: StoredReport | null, at: number): void {
    const webhook = options.webhooks && WEBHOOK_EVENT_STATUSES.has(status);
    const notice = options.notices && status !== 'delayed' && UNDELIVERED_STATUSES.has(status);
    if (!webhook && !notice) return;
    const row = sql.deliveryFacts.get(deliveryId) as unknown as {
      notification_id: string;
      position: number;
      recipient: string;
      message_id: string | null;
    } & ReplyColumns;
    const data = {
      notificationId: row.notification_id,
      position: row.position,
      recipient: row.recipient,
      status,
      messageId: row.message_id,
      lastReply: lastReplyOf(row),
      report,
    };
    const payload = webhookPayload(data, at);
    if (webhook) sql.addWebhook.run(newWebhookId(), `${row.notification_id}/${row.position}`, payload, at);
    if (notice) sql.addNotice.run(row.notification_id, payload, at + options.notices!.windowMs);
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
    if (changed === 1) recordEvent(id, status, null, outcome.at);
    return Number(changed);
  }

  // The status changes of one event-loop turn (what goes on the wire, outcomes) share a transaction,
  // in the order they came (an outcome, then the message its connection takes next), and so do
  // webhook answers (write-batch.ts): a commit is most of such a write's cost.
  const transitionBatch = writeBatch((items: readonly ({ id: number; at: number } | { id: number; outcome: Outcome })[]) =>
    write(work, () => items.map((item) => ('outcome' in item ? settleOne(item) : Number(sql.begin.run(item.at, item.id).changes)))),
  );
  const settleWebhookBatch = writeBatch((items: readonly { id: string; retryAt: number | null }[]) =>
    write(work, () => items.map(({ id, retryAt }) => (retryAt === null ? sql.dropWebhook.run(id) : sql.retryWebhook.run(retryAt, id)).changes)),
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

  return {
    async accept(notification: NewNotification): Promise<AcceptOutcome> {
      const stored = write(durable, (): AcceptOutcome | { kind: 'new' } => {
        if (notification.idempotencyKey !== null) {
          const existing = sql.byKey.get(notification.idempotencyKey) as { id: string; body_hash: string } | undefined;
          if (existing) {
            return existing.body_hash === notification.bodyHash ? { kind: 'replayed', notification: statusOf(existing.id)! } : { kind: 'key-reused' };
          }
        }
        const { event } = notification;
        sql.insertNotification.run(
          notification.id,
          notification.idempotencyKey,
          notification.bodyHash,
          notification.type,
          event.uid,
          event.sequence,
          notification.body,
          notification.acceptedAt,
          notification.deadlineAt,
        );
        notification.recipients.forEach((recipient, position) => {
          const at = notification.acceptedAt;
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

    async status(id: string): Promise<NotificationStatus | null> {
      return statusOf(id);
    },

    async claim(max: number, now: number): Promise<ClaimedDelivery[]> {
      return write(work, () => {
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
            recordEvent(id, 'superseded', null, now);
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
      });
    },

    async begin(deliveryId, at) {
      const changed = await transitionBatch({ id: Number(deliveryId), at });
      if (changed !== 1) throw new StaleDeliveryError(`delivery ${deliveryId} is not leased`);
    },

    async settle(deliveryId, outcome: Outcome) {
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
        recordEvent(row.id, effect === 'bounced' ? 'bounced' : 'delayed', storedReport(report), report.at);
        return effect;
      });
    },

    async claimWebhooks(max, now, leaseMs) {
      return write(work, () =>
        (sql.dueWebhooks.all({ now, max }) as { id: number; webhook_id: string; recipient_key: string; payload: string; attempts: number }[]).map((row) => {
          sql.leaseWebhook.run(now + leaseMs, row.id);
          return { id: row.webhook_id, recipientKey: row.recipient_key, payload: row.payload, attempt: row.attempts + 1 };
        }),
      );
    },

    async settleWebhook(event, result) {
      await settleWebhookBatch({ id: event.id, retryAt: 'delivered' in result ? null : result.retryAt });
    },

    async claimNotices(max, now, leaseMs) {
      return write(work, () =>
        (sql.dueNotices.all({ now, max }) as { notification_id: string; through: number }[]).map((due): NoticeBatch => {
          sql.leaseNotice.run(now + leaseMs, due.notification_id, due.through);
          const entries = sql.noticeEntries.all(due.notification_id, due.through) as { payload: string; attempts: number }[];
          return {
            notificationId: due.notification_id,
            body: bodyOf(due.notification_id).body,
            failures: entries.map((entry) => JSON.parse(entry.payload).data),
            attempt: Math.max(...entries.map((entry) => entry.attempts)),
            through: String(due.through),
          };
        }),
      );
    },

    async settleNotice(batch, result) {
      const through = Number(batch.through);
      write(
        work,
        () => ('done' in result ? sql.dropNotice.run(batch.notificationId, through) : sql.retryNotice.run(result.retryAt, batch.notificationId, through)),
        {
          transaction: false,
        },
      );
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
}

/** Adds what later versions store to an outbox an earlier version created. */
function migrate(db: DatabaseSync): void {
  const columns = new Set((db.prepare('PRAGMA table_info(deliveries)').all() as { name: string }[]).map((c) => c.name));
  const added: [string, string][] = [
    ['unconfirmed', 'INTEGER NOT NULL DEFAULT 0'],
    ['report_action', 'TEXT'],
    ['report_status', 'TEXT'],
    ['report_diagnostic', 'TEXT'],
    ['report_remote_mta', 'TEXT'],
    ['report_reporting_mta', 'TEXT'],
    ['report_at', 'INTEGER'],
  ];
  for (const [name, type] of added) if (!columns.has(name)) db.exec(`ALTER TABLE deliveries ADD COLUMN ${name} ${type}`);
  // Webhook ids minted with each event (webhook/webhook-id.ts); events stored before keep the id they went out with.
  const webhookColumns = new Set((db.prepare('PRAGMA table_info(webhook_events)').all() as { name: string }[]).map((c) => c.name));
  if (!webhookColumns.has('webhook_id')) db.exec("ALTER TABLE webhook_events ADD COLUMN webhook_id TEXT; UPDATE webhook_events SET webhook_id = 'evt_' || id");
  db.exec('CREATE UNIQUE INDEX IF NOT EXISTS webhook_events_webhook_id ON webhook_events(webhook_id)');
}

const transactionStatements = new WeakMap<DatabaseSync, { begin: StatementSync; commit: StatementSync }>();

function transaction<T>(db: DatabaseSync, work: () => T): T {
  // Prepared once: exec parses its SQL every time, which showed in the fan-out's profile.
  let statements = transactionStatements.get(db);
  if (!statements) {
    statements = { begin: db.prepare('BEGIN IMMEDIATE'), commit: db.prepare('COMMIT') };
    transactionStatements.set(db, statements);
  }
  statements.begin.run();
  try {
    const result = work();
    statements.commit.run();
    return result;
  } catch (error) {
    // SQLite ends the transaction itself on some errors (a full disk): rolling back
    // again would replace the real error with "cannot rollback".
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/** Room made on the disk since a write failed that lets /readyz try writing again: a notification of a thousand recipients is about a megabyte. */
const ROOM_MADE_BYTES = 1024 * 1024;

/** A full disk or an I/O error: the outbox cannot take writes until an operator acts. */
function isStorageFault(error: unknown): boolean {
  const code = (error as { errcode?: number }).errcode;
  // SQLITE_FULL (13), SQLITE_IOERR (10) and its extended codes, SQLITE_CANTOPEN (14), SQLITE_READONLY (8).
  return code !== undefined && [8, 10, 13, 14].includes(code & 0xff);
}

interface RivalRow {
  id: number;
  order_key: string;
  status: DeliveryStatus;
  sequence: number;
  method: CalendarMethod;
  occurrence: string | null;
  next_attempt_at: number;
  lease_until: number | null;
}

type OrderedRow = { -readonly [K in keyof OrderedDelivery]: OrderedDelivery[K] } & { readonly orderKey: string };

function orderedRow(row: RivalRow): OrderedRow {
  return {
    id: String(row.id),
    orderKey: row.order_key,
    status: row.status,
    sequence: row.sequence,
    arrival: row.id,
    method: row.method,
    occurrence: row.occurrence,
    // A leased delivery is on its way out: those after it look again shortly.
    nextAttemptAt: row.status === 'sending' || row.lease_until !== null || FINAL_STATUSES.has(row.status) ? null : row.next_attempt_at,
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

interface DeliveryRow extends ReplyColumns {
  recipient: string;
  status: DeliveryStatus;
  attempts: number;
  message_id: string | null;
  queued_at: number;
  updated_at: number;
  sent_at: number | null;
  next_attempt_at: number;
  report_action: 'failed' | 'delayed' | null;
  report_status: string | null;
  report_diagnostic: string | null;
  report_remote_mta: string | null;
  report_reporting_mta: string | null;
  report_at: number | null;
}

interface ReplyColumns {
  last_code: string | null;
  last_response_code: number | null;
  last_response: string | null;
  last_message: string | null;
}

/** The relay's last reply as stored in a delivery row, or null before any attempt. */
function lastReplyOf(row: ReplyColumns): LastReply | null {
  return row.last_code === null
    ? null
    : { code: row.last_code, responseCode: row.last_response_code, response: row.last_response, message: row.last_message ?? row.last_response ?? '' };
}

function deliveryRecord(row: DeliveryRow): DeliveryRecord {
  return {
    email: row.recipient,
    status: row.status,
    attempts: row.attempts,
    lastReply: lastReplyOf(row),
    messageId: row.message_id,
    queuedAt: iso(row.queued_at)!,
    updatedAt: iso(row.updated_at)!,
    sentAt: iso(row.sent_at),
    nextAttemptAt: row.status === 'queued' || row.status === 'retrying' ? iso(row.next_attempt_at) : null,
    report:
      row.report_action === null
        ? null
        : {
            action: row.report_action,
            status: row.report_status,
            diagnostic: row.report_diagnostic,
            remoteMta: row.report_remote_mta,
            reportingMta: row.report_reporting_mta,
            receivedAt: iso(row.report_at)!,
          },
  };
}

/**
 * Makes DATA_DIR's folder and file; a failure says what is wrong with DATA_DIR
 * and what to do, in one line (`code: 'EDATADIR'`), not a stack that names mkdir.
 */
function dataDirFile(dataDir: string, make: () => string): string {
  try {
    return make();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'is not a folder (a file is in its way): set DATA_DIR to a folder, or remove the file'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? `cannot be written by this user (${code}): give it write access to the folder, or set DATA_DIR to one it may write`
          : `cannot be used (${(error as Error).message}): set DATA_DIR to a folder this user may write`;
    throw Object.assign(new Error(`DATA_DIR ${dataDir} ${why}`), { code: 'EDATADIR' });
  }
}

/**
 * The path of a file only its owner may read and write: made 0600 before
 * SQLite opens it (SQLite makes a new file 0644, and its -wal and -shm files
 * take the database file's mode), or narrowed to 0600 if it was wider.
 */
function ownerOnlyFile(path: string): string {
  closeSync(openSync(path, 'a', 0o600));
  if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
  return path;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * One process per DATA_DIR: two would resend each other's deliveries. The
 * lock is an exclusive SQLite lock on `instance.lock`, an fcntl lock the kernel
 * releases when the process dies however it dies (no pid file to go stale, no
 * reused pid taken for a live holder).
 */
function lockDataDir(dataDir: string): { close(): void } {
  const lock = new DatabaseSync(ownerOnlyFile(join(dataDir, 'instance.lock')));
  try {
    lock.exec('PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;');
  } catch (error) {
    lock.close();
    if ((error as { errcode?: number }).errcode === 5) {
      throw Object.assign(new Error(`DATA_DIR ${dataDir} is in use by another running instance; run one instance per DATA_DIR (QUEUE_URL for several)`), {
        code: 'EDATADIR',
      });
    }
    throw error;
  }
  return lock;
}
