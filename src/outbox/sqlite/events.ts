/**
 * The SQLite outbox's facts and its one event queue (../events.ts): a fact
 * per heard change, written in the delivery's transaction, and an event per
 * consumer that hears it.
 */
import type { DatabaseSync } from 'node:sqlite';
import { eventTimeOf, newEventId } from '../event-id.ts';
import {
  consumersOf,
  type DeliveryFact,
  type EventBatch,
  type EventConsumer,
  type EventQueue,
  type EventResult,
  eventKey,
  type FactStatus,
  type StoredReport,
} from '../events.ts';
import { writeBatch } from '../write-batch.ts';
import { lastReplyOf, type ReplyColumns } from './rows.ts';

/** A write on the bookkeeping connection, in a transaction, with storage faults remembered (open.ts). */
export type Write = <T>(work: () => T) => T;

export interface SqliteEvents {
  readonly queue: EventQueue;
  /** Stores what consumers hear of a delivery's change, inside the caller's transaction. */
  record(deliveryId: number, status: FactStatus, report: StoredReport | null, at: number): void;
}

/** @example const events = sqliteEvents(work, consumers, write); events.record(id, 'sent', null, Date.now()); */
export function sqliteEvents(db: DatabaseSync, consumers: readonly EventConsumer[], write: Write): SqliteEvents {
  const byName = new Map(consumers.map((c) => [c.name, c]));
  const sql = {
    delivery: db.prepare(
      'SELECT notification_id, position, recipient, message_id, last_code, last_response_code, last_response, last_message FROM deliveries WHERE id = ?',
    ),
    addFact: db.prepare('INSERT INTO facts (notification_id, fact) VALUES (?, ?)'),
    addEvent: db.prepare('INSERT INTO events (id, consumer, key, notification_id, fact_seq, due_at) VALUES (?, ?, ?, ?, ?, ?)'),
    // A key's oldest event when it is due, oldest first, stopping at :max: each candidate is checked to be its key's
    // oldest by an index probe, rather than every event being compared with every other (which cost the fan-out 30%).
    dueOldest: db.prepare(
      `SELECT e.seq, e.key FROM events e
       WHERE e.consumer = :consumer AND e.due_at <= :now AND (e.lease_until IS NULL OR e.lease_until <= :now)
         AND NOT EXISTS (SELECT 1 FROM events o WHERE o.consumer = e.consumer AND o.key = e.key AND o.seq < e.seq)
       ORDER BY e.seq LIMIT :max`,
    ),
    // A key is due when its first event's time has come and no one holds it.
    dueAll: db.prepare(
      `SELECT key, MAX(seq) AS seq FROM events WHERE consumer = :consumer GROUP BY key
       HAVING MIN(due_at) <= :now AND MAX(COALESCE(lease_until, 0)) <= :now ORDER BY MIN(seq) LIMIT :max`,
    ),
    lease: db.prepare('UPDATE events SET lease_until = ?, attempts = attempts + 1 WHERE consumer = ? AND key = ? AND seq <= ?'),
    leased: db.prepare(
      `SELECT e.id, e.attempts, f.fact FROM events e JOIN facts f ON f.seq = e.fact_seq
       WHERE e.consumer = ? AND e.key = ? AND e.seq <= ? AND e.lease_until = ? ORDER BY e.seq`,
    ),
    drop: db.prepare('DELETE FROM events WHERE consumer = ? AND key = ? AND seq <= ?'),
    retry: db.prepare('UPDATE events SET lease_until = NULL, due_at = ? WHERE consumer = ? AND key = ? AND seq <= ?'),
    backlog: db.prepare(
      'SELECT COUNT(*) AS waiting, (SELECT id FROM events WHERE consumer = :consumer ORDER BY seq LIMIT 1) AS oldest FROM events WHERE consumer = :consumer',
    ),
  };

  // Answers of one event-loop turn share a transaction (write-batch.ts): a commit is most of their cost.
  const settleBatch = writeBatch((items: readonly { batch: EventBatch; result: EventResult }[]) =>
    write(() =>
      items.map(({ batch, result }) => {
        const through = Number(batch.through);
        return 'done' in result
          ? sql.drop.run(batch.consumer, batch.key, through).changes
          : sql.retry.run(result.retryAt, batch.consumer, batch.key, through).changes;
      }),
    ),
  );

  return {
    record(deliveryId, status, report, at) {
      const hearing = consumersOf(consumers, status);
      if (hearing.length === 0) return;
      const row = sql.delivery.get(deliveryId) as unknown as {
        notification_id: string;
        position: number;
        recipient: string;
        message_id: string | null;
      } & ReplyColumns;
      const fact: DeliveryFact = {
        notificationId: row.notification_id,
        position: row.position,
        recipient: row.recipient,
        status,
        messageId: row.message_id,
        lastReply: lastReplyOf(row),
        report,
        at,
      };
      const seq = sql.addFact.run(fact.notificationId, JSON.stringify(fact)).lastInsertRowid;
      for (const consumer of hearing) sql.addEvent.run(newEventId(), consumer.name, eventKey(consumer, fact), fact.notificationId, seq, at + consumer.delayMs);
    },

    queue: {
      async claim(name, max, now, leaseMs) {
        const consumer = byName.get(name);
        if (!consumer) throw new Error(`no event consumer named ${name}`);
        const leaseUntil = now + leaseMs;
        return write(() => {
          const due = (consumer.take === 'oldest' ? sql.dueOldest : sql.dueAll).all({ consumer: name, now, max }) as { seq: number; key: string }[];
          return due.map(({ seq, key }): EventBatch => {
            sql.lease.run(leaseUntil, name, key, seq);
            const rows = sql.leased.all(name, key, seq, leaseUntil) as { id: string; attempts: number; fact: string }[];
            return {
              consumer: name,
              key,
              events: rows.map((row) => ({ id: row.id, fact: JSON.parse(row.fact) as DeliveryFact })),
              attempt: Math.max(...rows.map((row) => row.attempts)),
              through: String(seq),
            };
          });
        });
      },
      async settle(batch, result) {
        await settleBatch({ batch, result });
      },
      async backlog(consumer) {
        const row = sql.backlog.get({ consumer }) as { waiting: number; oldest: string | null };
        return { waiting: row.waiting, oldestAt: row.oldest === null ? null : eventTimeOf(row.oldest) };
      },
    },
  };
}
