/**
 * The SQLite delivery store's statements, prepared once: accepting on the
 * durable connection (synchronous=FULL), bookkeeping on the work connection.
 */
import type { DatabaseSync } from 'node:sqlite';
import { OPEN_STATUSES_SQL } from './schema.ts';

/** @example const sql = deliveryStatements(durable, work); sql.counts.all(); */
export function deliveryStatements(durable: DatabaseSync, work: DatabaseSync) {
  return {
    byKey: durable.prepare('SELECT id, body_hash FROM notifications WHERE idempotency_key = ?'),
    insertNotification: durable.prepare(
      'INSERT INTO notifications (id, idempotency_key, body_hash, type, uid, sequence, body, accepted_at, deadline_at, flow) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertProgress: durable.prepare('INSERT INTO progress (notification_id, open) VALUES (?, ?)'),
    insertDelivery: durable.prepare(
      `INSERT INTO deliveries (notification_id, position, recipient, order_key, sequence, method, occurrence, status, next_attempt_at, queued_at, updated_at, fair_class, fair_tag)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
    ),
    probe: durable.prepare('INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at'),
    notification: work.prepare('SELECT id, type, uid, sequence, accepted_at, deadline_at FROM notifications WHERE id = ?'),
    deliveriesOf: work.prepare('SELECT * FROM deliveries WHERE notification_id = ? ORDER BY position'),
    // The fair order (delivery/fairness.ts), by the partial index deliveries_fair: not due or leased ones are passed over.
    due: work.prepare(
      `SELECT id, fair_class, fair_tag FROM deliveries INDEXED BY deliveries_fair
       WHERE status IN ('queued', 'retrying') AND next_attempt_at <= :now AND lease_until IS NULL
       ORDER BY fair_class, fair_tag, id LIMIT :limit`,
    ),
    // Where each class's queue stands at start: its first tag still waiting.
    frontTags: work.prepare(`SELECT fair_class, MIN(fair_tag) AS tag FROM deliveries WHERE status IN ('queued', 'retrying') GROUP BY fair_class`),
    // And where each organizer's flow ends in each class: the tag after its last still waiting.
    flowEnds: work.prepare(
      `SELECT d.fair_class, n.flow, MAX(d.fair_tag) + 1 AS tag FROM deliveries d JOIN notifications n ON n.id = d.notification_id
       WHERE d.status IN ('queued', 'retrying') AND n.flow != '' GROUP BY d.fair_class, n.flow`,
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
    backlog: work.prepare(
      `SELECT COUNT(*) AS due, MIN(next_attempt_at) AS oldest FROM deliveries WHERE status IN ('queued', 'retrying') AND next_attempt_at <= :now AND lease_until IS NULL`,
    ),
    byPosition: work.prepare('SELECT id, status, report_action, report_at FROM deliveries WHERE notification_id = ? AND position = ?'),
    report: work.prepare(
      `UPDATE deliveries SET status = :status, report_action = :action, report_status = :reportStatus, report_diagnostic = :diagnostic,
         report_remote_mta = :remoteMta, report_reporting_mta = :reportingMta, report_at = :at, updated_at = :at
       WHERE id = :id AND status = :from`,
    ),
  };
}

export type DeliveryStatements = ReturnType<typeof deliveryStatements>;
