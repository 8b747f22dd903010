/**
 * The SQLite outbox's tables, and the migration of an outbox an earlier
 * release made. Facts and events are one table each for every consumer
 * (events.ts): a new consumer needs no new table.
 */
import type { DatabaseSync } from 'node:sqlite';
import { DELIVERY_STATUSES, FINAL_STATUSES } from '../../delivery/policy.ts';
import { newEventId } from '../event-id.ts';

/** Statuses a notification still has work in, as an SQL list. */
export const OPEN_STATUSES_SQL = DELIVERY_STATUSES.filter((s) => !FINAL_STATUSES.has(s))
  .map((s) => `'${s}'`)
  .join(', ');

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
  deadline_at INTEGER NOT NULL,
  -- Whose notifications take turns with others' (delivery/fairness.ts, organizerFlow): a digest, no address.
  flow TEXT NOT NULL DEFAULT ''
);
-- A notification's recipients not final yet, and when the last became final (what RETENTION counts
-- from). A table of its own: in the notifications row, each of a fan-out's 1600 changes rewrote the
-- request body's overflow pages (the fan-out took 35% longer, bench:service).
CREATE TABLE IF NOT EXISTS progress (
  notification_id TEXT PRIMARY KEY,
  open INTEGER NOT NULL,
  final_at INTEGER
) WITHOUT ROWID;
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
  sent_at INTEGER,
  -- Who goes first (delivery/fairness.ts): the class, then the start-time fair queuing tag.
  fair_class INTEGER NOT NULL DEFAULT 2,
  fair_tag INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries(order_key, sequence, id);
CREATE INDEX IF NOT EXISTS deliveries_notification ON deliveries(notification_id, position);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS facts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id TEXT NOT NULL,
  fact TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS facts_notification ON facts(notification_id);
-- Indexed for what reads it only (every index is one more write on each message's path with webhooks on):
-- a consumer's keys in order; a notification's events are found by a scan when it is removed (the table
-- holds what is not delivered yet, little), and ids are unique by construction (UUIDv7, event-id.ts).
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  consumer TEXT NOT NULL,
  key TEXT NOT NULL,
  notification_id TEXT NOT NULL,
  fact_seq INTEGER NOT NULL REFERENCES facts(seq),
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS events_key ON events(consumer, key, seq);
`;

/**
 * Creates the tables, or brings an earlier release's up to date (inside the caller's transaction).
 *
 * @example transaction(db, () => createSchema(db));
 */
export function createSchema(db: DatabaseSync): void {
  const earlier = tablesOf(db);
  db.exec(SCHEMA);
  if (earlier.has('notifications')) migrate(db, earlier);
  db.exec(`CREATE INDEX IF NOT EXISTS progress_final ON progress(final_at) WHERE final_at IS NOT NULL;
    CREATE INDEX IF NOT EXISTS deliveries_fair ON deliveries(fair_class, fair_tag, id) WHERE status IN ('queued', 'retrying');`);
}

function tablesOf(db: DatabaseSync): Set<string> {
  return new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
}

function columnsOf(db: DatabaseSync, table: string): Set<string> {
  return new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
}

function migrate(db: DatabaseSync, tables: ReadonlySet<string>): void {
  // Notifications of earlier releases belong to no organizer's flow: each takes turns as one of its own.
  if (!columnsOf(db, 'notifications').has('flow')) db.exec(`ALTER TABLE notifications ADD COLUMN flow TEXT NOT NULL DEFAULT ''`);
  const deliveryColumns = columnsOf(db, 'deliveries');
  const added: [string, string][] = [
    ['unconfirmed', 'INTEGER NOT NULL DEFAULT 0'],
    ['report_action', 'TEXT'],
    ['report_status', 'TEXT'],
    ['report_diagnostic', 'TEXT'],
    ['report_remote_mta', 'TEXT'],
    ['report_reporting_mta', 'TEXT'],
    ['report_at', 'INTEGER'],
    ['fair_class', 'INTEGER NOT NULL DEFAULT 2'],
    ['fair_tag', 'INTEGER NOT NULL DEFAULT 0'],
  ];
  for (const [name, type] of added) if (!deliveryColumns.has(name)) db.exec(`ALTER TABLE deliveries ADD COLUMN ${name} ${type}`);
  // Claims go in the fair order now (deliveries_fair): the index of the first-in-first-out order is dropped.
  db.exec('DROP INDEX IF EXISTS deliveries_due');
  // Deliveries an earlier release left waiting go in the order they came.
  if (!deliveryColumns.has('fair_tag')) db.exec(`UPDATE deliveries SET fair_tag = id WHERE status IN ('queued', 'retrying')`);
  if (!tables.has('progress')) {
    // Outboxes before RETENTION: what is final counts from its last change.
    db.exec(`INSERT INTO progress (notification_id, open)
        SELECT n.id, (SELECT COUNT(*) FROM deliveries d WHERE d.notification_id = n.id AND d.status IN (${OPEN_STATUSES_SQL})) FROM notifications n;
      UPDATE progress SET final_at = (SELECT MAX(updated_at) FROM deliveries d WHERE d.notification_id = progress.notification_id) WHERE open = 0;`);
  }
  moveOldQueues(db, tables);
}

/**
 * Events waiting in the tables of releases before facts (a webhook payload per
 * row) become facts and events of the consumers those tables were for,
 * keeping their ids, attempts and due times.
 */
function moveOldQueues(db: DatabaseSync, tables: ReadonlySet<string>): void {
  const addFact = db.prepare('INSERT INTO facts (notification_id, fact) VALUES (?, ?)');
  const addEvent = db.prepare('INSERT INTO events (id, consumer, key, notification_id, fact_seq, due_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const move = (consumer: string, rows: { id: string | null; key: string; payload: string; due: number; attempts: number }[]) => {
    for (const row of rows) {
      const { timestamp, data } = JSON.parse(row.payload) as { timestamp: string; data: { notificationId: string } & Record<string, unknown> };
      const seq = addFact.run(data.notificationId, JSON.stringify({ ...data, at: Date.parse(timestamp) })).lastInsertRowid;
      addEvent.run(row.id ?? newEventId(), consumer, row.key, data.notificationId, seq, row.due, row.attempts);
    }
  };
  if (tables.has('webhook_events')) {
    const hasIds = columnsOf(db, 'webhook_events').has('webhook_id');
    const rows = db
      .prepare(
        `SELECT ${hasIds ? "COALESCE(webhook_id, 'evt_' || id)" : "'evt_' || id"} AS id, recipient_key AS key, payload, next_attempt_at AS due, attempts
         FROM webhook_events ORDER BY id`,
      )
      .all() as never[];
    move('webhook', rows);
    db.exec('DROP TABLE webhook_events');
  }
  if (tables.has('organizer_notices')) {
    const rows = db.prepare('SELECT NULL AS id, notification_id AS key, payload, due_at AS due, attempts FROM organizer_notices ORDER BY id').all() as never[];
    move('notice', rows);
    db.exec('DROP TABLE organizer_notices');
  }
}
