/**
 * The SQLite delivery store: notifications and their deliveries, claimed,
 * settled and reported on by the delivery rules (policy.ts). A change and what
 * consumers hear of it (events.ts) are one transaction.
 */
import type { DatabaseSync } from 'node:sqlite';
import { LRUCache } from 'lru-cache';
import { type DeliveryClass, fairStartTag } from '../../delivery/fairness.ts';
import {
  afterReport,
  arbitrate,
  DELIVERY_STATUSES,
  type DeliveryReport,
  type DeliveryStatus,
  FINAL_STATUSES,
  type Outcome,
  statusAfter,
} from '../../delivery/policy.ts';
import {
  type AcceptOutcome,
  type ClaimedDelivery,
  type DeliveryBacklog,
  type DeliveryRef,
  type DeliveryStore,
  type NewNotification,
  type NotificationStatus,
  type ReportResult,
  StaleDeliveryError,
  statusOfNew,
} from '../outbox.ts';
import { storedReport } from '../report.ts';
import { writeBatch } from '../write-batch.ts';
import type { SqliteEvents } from './events.ts';
import { type DeliveryRow, type NotificationRow, notificationStatus, type OrderedRow, orderedRow, type RivalRow } from './rows.ts';
import type { DeliveryStatements } from './statements.ts';
import type { StorageWrites } from './writes.ts';

/** How many due deliveries a claim looks at per delivery it may hand out (some wait or are superseded). */
const SCAN_FACTOR = 2;
/** Flows' ends kept per class before those the served tag has passed are forgotten. */
const FLOWS_KEPT = 1000;

type Transition = { id: number; at: number } | { id: number; outcome: Outcome };

/** @example const store = new SqliteDeliveries({ durable, work, sql, writes, events }); await store.claim(10, Date.now()); */
export class SqliteDeliveries implements Omit<DeliveryStore, 'close'> {
  readonly #durable: DatabaseSync;
  readonly #work: DatabaseSync;
  readonly #sql: DeliveryStatements;
  readonly #writes: StorageWrites;
  readonly #events: SqliteEvents;
  /**
   * Bodies are read at every claim; a notification's body is the same for all its recipients. A few
   * are enough for the notifications being sent at once (a hundred kept the last hundred fan-outs'
   * bodies, 0.7 MB each at 1600 recipients).
   */
  readonly #bodies = new LRUCache<string, { body: string; acceptedAt: number; deadlineAt: number }>({ max: 8 });
  /**
   * The status changes of one event-loop turn (what goes on the wire, outcomes) share a transaction,
   * in the order they came (an outcome, then the message its connection takes next) (write-batch.ts):
   * a commit is most of such a write's cost.
   */
  readonly #transition: (item: Transition) => Promise<number>;
  /**
   * The tag each class is served at (delivery/fairness.ts): the largest claimed so far. A new
   * notification starts there. One process holds a DATA_DIR, so it is kept here; at start, each
   * class's first waiting tag.
   */
  readonly #servedTags: [number, number, number] = [0, 0, 0];
  /** Where each organizer's flow ends in each class (the tag after its last): its next notification starts there, if later than served. */
  readonly #flowEnds: [Map<string, number>, Map<string, number>, Map<string, number>] = [new Map(), new Map(), new Map()];

  constructor(parts: { durable: DatabaseSync; work: DatabaseSync; sql: DeliveryStatements; writes: StorageWrites; events: SqliteEvents }) {
    this.#durable = parts.durable;
    this.#work = parts.work;
    this.#sql = parts.sql;
    this.#writes = parts.writes;
    this.#events = parts.events;
    for (const row of this.#sql.frontTags.all() as { fair_class: DeliveryClass; tag: number }[]) this.#servedTags[row.fair_class] = row.tag;
    for (const row of this.#sql.flowEnds.all() as { fair_class: DeliveryClass; flow: string; tag: number }[])
      this.#flowEnds[row.fair_class].set(row.flow, row.tag);
    this.#transition = writeBatch((items: readonly Transition[]) =>
      this.#writes.write(this.#work, () =>
        items.map((item) => ('outcome' in item ? this.#settleOne(item) : Number(this.#sql.begin.run(item.at, item.id).changes))),
      ),
    );
  }

  /** Where a new notification's tags start (fairness.ts, fairStartTag). */
  #startTag(notification: NewNotification): number {
    return fairStartTag(this.#servedTags[notification.deliveryClass], this.#flowEnds[notification.deliveryClass].get(notification.flow));
  }

  /** A notification stored from `start` on: its organizer's flow now ends after it. */
  #extendFlow(notification: NewNotification, start: number): void {
    const served = this.#servedTags[notification.deliveryClass];
    const ends = this.#flowEnds[notification.deliveryClass];
    ends.set(notification.flow, start + notification.recipients.length);
    // Flows served past their end start at the served tag anyway: forgotten, so the map holds only flows with work waiting.
    if (ends.size > FLOWS_KEPT) for (const [flow, end] of ends) if (end <= served) ends.delete(flow);
  }

  /** Forgets a cached body (its notification was removed). */
  forget(id: string): void {
    this.#bodies.delete(id);
  }

  async accept(notification: NewNotification): Promise<AcceptOutcome> {
    const sql = this.#sql;
    let startTag = 0;
    const stored = this.#writes.write(this.#durable, (): AcceptOutcome | { kind: 'new' } => {
      if (notification.idempotencyKey !== null) {
        const existing = sql.byKey.get(notification.idempotencyKey) as { id: string; body_hash: string } | undefined;
        if (existing) {
          return existing.body_hash === notification.bodyHash ? { kind: 'replayed', notification: this.#statusOf(existing.id)! } : { kind: 'key-reused' };
        }
      }
      const { event, acceptedAt: at } = notification;
      startTag = this.#startTag(notification);
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
        notification.flow,
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
          notification.deliveryClass,
          startTag + position,
        );
      });
      return { kind: 'new' };
    });
    if (stored.kind !== 'new') return stored;
    this.#extendFlow(notification, startTag);
    return { kind: 'accepted', notification: statusOfNew(notification) };
  }

  async status(id: string): Promise<NotificationStatus | null> {
    return this.#statusOf(id);
  }

  async body(id: string): Promise<string | null> {
    return (this.#sql.body.get(id) as { body: string } | undefined)?.body ?? null;
  }

  async claim(max: number, now: number): Promise<ClaimedDelivery[]> {
    return this.#writes.write(this.#work, () => this.#claimDue(max, now));
  }

  async begin(deliveryId: string, at: number): Promise<void> {
    const changed = await this.#transition({ id: Number(deliveryId), at });
    if (changed !== 1) throw new StaleDeliveryError(`delivery ${deliveryId} is not leased`);
  }

  async settle(deliveryId: string, outcome: Outcome): Promise<void> {
    const changed = await this.#transition({ id: Number(deliveryId), outcome });
    if (changed !== 1) throw new StaleDeliveryError(`delivery ${deliveryId} is not sending`);
  }

  async release(deliveryIds: readonly string[]): Promise<void> {
    const at = Date.now();
    this.#writes.write(this.#work, () => {
      for (const id of deliveryIds) this.#sql.release.run(at, Number(id));
    });
  }

  async report(delivery: DeliveryRef, report: DeliveryReport): Promise<ReportResult> {
    const sql = this.#sql;
    return this.#writes.write(this.#work, (): ReportResult => {
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
      this.#events.record(row.id, effect === 'bounced' ? 'bounced' : 'delayed', storedReport(report), report.at);
      return effect;
    });
  }

  async counts(): Promise<Record<DeliveryStatus, number>> {
    const counts = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;
    for (const row of this.#sql.counts.all() as { status: DeliveryStatus; n: number }[]) counts[row.status] = row.n;
    return counts;
  }

  async backlog(now: number): Promise<DeliveryBacklog> {
    const row = this.#sql.backlog.get({ now }) as { due: number; oldest: number | null };
    return { due: row.due, oldestDueAt: row.oldest };
  }

  async checkWritable(): Promise<void> {
    this.#writes.check(() => this.#sql.probe.run(Date.now()), this.#durable);
  }

  #statusOf(id: string): NotificationStatus | null {
    const row = this.#sql.notification.get(id) as NotificationRow | undefined;
    if (!row) return null;
    return notificationStatus(row, this.#sql.deliveriesOf.all(id) as unknown as DeliveryRow[]);
  }

  /** A delivery reached a final status (inside the caller's transaction): its notification waits for one less. */
  #madeFinal(deliveryId: number, at: number): void {
    this.#sql.oneFinal.run({ delivery: deliveryId, at });
  }

  /** Records one outcome (policy.decide) and what others hear of it; inside the batch's transaction. */
  #settleOne({ id, outcome }: { id: number; outcome: Outcome }): number {
    const { reply } = outcome;
    const status = statusAfter(outcome);
    const changed = this.#sql.settle.run({
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
      if (FINAL_STATUSES.has(status)) this.#madeFinal(id, outcome.at);
      this.#events.record(id, status, null, outcome.at);
    }
    return Number(changed);
  }

  #bodyOf(notificationId: string) {
    let notification = this.#bodies.get(notificationId);
    if (!notification) {
      const n = this.#sql.body.get(notificationId) as { body: string; accepted_at: number; deadline_at: number };
      notification = { body: n.body, acceptedAt: n.accepted_at, deadlineAt: n.deadline_at };
      this.#bodies.set(notificationId, notification);
    }
    return notification;
  }

  /** Leases, supersedes or puts off each due delivery by the rules (policy.arbitrate); inside the claim's transaction. */
  #claimDue(max: number, now: number): ClaimedDelivery[] {
    const sql = this.#sql;
    const dueRows = sql.due.all({ now, limit: max * SCAN_FACTOR }) as { id: number; fair_class: DeliveryClass; fair_tag: number }[];
    if (dueRows.length === 0) return [];
    const due = dueRows.map((r) => r.id);
    const tags = new Map(dueRows.map((r) => [r.id, r]));
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
        this.#madeFinal(id, now);
        this.#events.record(id, 'superseded', null, now);
      } else if (decision.action === 'wait') {
        sql.wait.run(decision.until, id);
      } else {
        sql.lease.run(now, id);
        const { fair_class, fair_tag } = tags.get(id)!;
        if (fair_tag > this.#servedTags[fair_class]) this.#servedTags[fair_class] = fair_tag;
        const row = sql.leased.get(id) as { notification_id: string; position: number; recipient: string; attempts: number; unconfirmed: number };
        claimed.push({
          deliveryId: String(id),
          notificationId: row.notification_id,
          position: row.position,
          recipient: row.recipient,
          attempt: row.attempts + 1,
          unconfirmed: row.unconfirmed,
          ...this.#bodyOf(row.notification_id),
        });
      }
    }
    return claimed;
  }
}
