import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { NOTICE_CONSUMER, noticeConsumer } from '../../src/notice/sender.ts';
import { openSqliteOutbox } from '../../src/outbox/sqlite/open.ts';
import { WEBHOOK_CONSUMER, webhookPayload } from '../../src/webhook/event.ts';
import { example } from '../helpers/examples.ts';
import { CONTRACT_CONSUMERS, notificationOf, type OutboxHarness, outboxContract } from './contract.ts';
import { EARLIER_AT, EARLIER_DATA, EARLIER_PAYLOAD } from './earlier-release.ts';
import { eventQueueContract } from './events-contract.ts';
import { fairnessContract } from './fairness-contract.ts';
import { retentionContract } from './retention-contract.ts';

const harness = (): OutboxHarness => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outbox-'));
  return {
    open: async () => openSqliteOutbox({ dataDir, consumers: CONTRACT_CONSUMERS }),
    reopen: async () => openSqliteOutbox({ dataDir, consumers: CONTRACT_CONSUMERS }),
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
};
outboxContract('SQLite', harness);
eventQueueContract('SQLite', harness);
retentionContract('SQLite', harness);
fairnessContract('SQLite', harness);

/** The tables of the release before facts and RETENTION (0.1.0 and the webhook ids after it). */
const EARLIER_SCHEMA = `
CREATE TABLE notifications (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, body_hash TEXT NOT NULL, type TEXT NOT NULL, uid TEXT NOT NULL,
  sequence INTEGER NOT NULL, body TEXT NOT NULL, accepted_at INTEGER NOT NULL, deadline_at INTEGER NOT NULL);
CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id TEXT NOT NULL REFERENCES notifications(id), position INTEGER NOT NULL,
  recipient TEXT NOT NULL, order_key TEXT NOT NULL, sequence INTEGER NOT NULL, method TEXT NOT NULL, occurrence TEXT, status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, lease_until INTEGER, unconfirmed INTEGER NOT NULL DEFAULT 0,
  report_action TEXT, report_status TEXT, report_diagnostic TEXT, report_remote_mta TEXT, report_reporting_mta TEXT, report_at INTEGER,
  last_code TEXT, last_response_code INTEGER, last_response TEXT, last_message TEXT, message_id TEXT, queued_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, sent_at INTEGER);
CREATE TABLE webhook_events (id INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT, recipient_key TEXT NOT NULL, payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, lease_until INTEGER);
CREATE TABLE organizer_notices (id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id TEXT NOT NULL, payload TEXT NOT NULL,
  due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_until INTEGER);
`;

describe('SQLite outbox', () => {
  it("takes over an earlier release's outbox: waiting webhooks and notices keep their ids as facts and events; a finished notification is kept for RETENTION", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const old = new DatabaseSync(join(dataDir, 'outbox.sqlite'));
    old.exec(EARLIER_SCHEMA);
    const [at, data, payload] = [EARLIER_AT, EARLIER_DATA, EARLIER_PAYLOAD];
    old.prepare(`INSERT INTO notifications VALUES ('n1', NULL, '', 'invitation', 'uid-1', 0, '{}', ?, ?)`).run(at, at + 86_400_000);
    old
      .prepare(`INSERT INTO deliveries (notification_id, position, recipient, order_key, sequence, method, status, next_attempt_at, queued_at, updated_at)
        VALUES ('n1', 0, 'a@partner.example', 'k', 0, 'REQUEST', 'failed', ?, ?, ?)`)
      .run(at, at, at);
    old.prepare(`INSERT INTO webhook_events (webhook_id, recipient_key, payload, next_attempt_at) VALUES ('evt_7', 'n1/0', ?, 0)`).run(payload);
    old.prepare(`INSERT INTO organizer_notices (notification_id, payload, due_at, attempts) VALUES ('n1', ?, 0, 2)`).run(payload);
    old.close();

    const consumers = [WEBHOOK_CONSUMER, noticeConsumer(0)];
    const upgraded = openSqliteOutbox({ dataDir, consumers });
    const [webhook] = await upgraded.events.claim('webhook', 10, Date.now(), 60_000);
    expect(webhook!.events).toEqual([{ id: 'evt_7', fact: { ...data, at } }]);
    expect(webhookPayload(webhook!.events[0]!.fact)).toBe(payload); // the same bytes it would have sent
    const [notice] = await upgraded.events.claim(NOTICE_CONSUMER, 10, Date.now(), 60_000);
    expect(notice).toMatchObject({ key: 'n1', attempt: 3, events: [{ fact: { ...data, at } }] });
    // Final since its last change: kept for RETENTION from then, not from the upgrade.
    expect((await upgraded.purge(at - 1, 10)).notifications).toBe(0);
    expect(await upgraded.purge(at, 10)).toEqual({ notifications: 1, undeliveredEvents: { webhook: 1, notice: 1 } });
    await upgraded.close();
    const tables = new DatabaseSync(join(dataDir, 'outbox.sqlite'));
    expect(tables.prepare("SELECT name FROM sqlite_master WHERE name IN ('webhook_events', 'organizer_notices')").all()).toEqual([]);
    tables.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps its files to the service’s user: DATA_DIR 0700, every file in it 0600 (the write-ahead log too), and narrows a wider one', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'outbox-'));
    const dataDir = join(parent, 'data');
    const outbox = openSqliteOutbox({ dataDir });
    await outbox.accept(notificationOf(example('skype-invitation')));
    const modes = () => Object.fromEntries(readdirSync(dataDir).map((name) => [name, statSync(join(dataDir, name)).mode & 0o777]));
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(Object.keys(modes())).toEqual(expect.arrayContaining(['outbox.sqlite', 'outbox.sqlite-wal', 'instance.lock']));
    expect(Object.values(modes()).filter((mode) => mode !== 0o600)).toEqual([]);
    await outbox.close();
    chmodSync(join(dataDir, 'outbox.sqlite'), 0o644);
    const again = openSqliteOutbox({ dataDir });
    expect(modes()['outbox.sqlite']).toBe(0o600);
    await again.close();
    rmSync(parent, { recursive: true, force: true });
  });

  it('refuses a DATA_DIR another live outbox holds', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const first = openSqliteOutbox({ dataDir });
    expect(() => openSqliteOutbox({ dataDir })).toThrow(/in use by another running instance/);
    await first.close();
    const second = openSqliteOutbox({ dataDir });
    await second.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores all of a notification or none of it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const outbox = openSqliteOutbox({ dataDir });
    const n = notificationOf(example('trueconf-weekly'));
    await outbox.accept(n);
    // the same id again breaks the primary key half-way: nothing of the second attempt stays
    await expect(outbox.accept({ ...n, idempotencyKey: 'other' })).rejects.toThrow();
    expect((await outbox.counts()).queued).toBe(3);
    await outbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});
