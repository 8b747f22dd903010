import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { openSqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import { acceptedBy } from '../../src/transport/delivery-error.ts';
import { example } from '../helpers/examples.ts';
import { NOTICE_WINDOW_MS, notificationOf, outboxContract } from './contract.ts';

outboxContract('SQLite', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outbox-'));
  return {
    open: async () => openSqliteOutbox({ dataDir, webhooks: true, notices: { windowMs: NOTICE_WINDOW_MS } }),
    reopen: async () => openSqliteOutbox({ dataDir, webhooks: true, notices: { windowMs: NOTICE_WINDOW_MS } }),
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
});

describe('SQLite outbox', () => {
  it('gives webhook events ids no other outbox gives, and keeps the ids of events stored before ids were minted', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'outbox-'));
      const outbox = openSqliteOutbox({ dataDir, webhooks: true });
      await outbox.accept(notificationOf(example('skype-invitation')));
      const [claimed] = await outbox.claim(1, Date.now());
      await outbox.begin(claimed!.deliveryId, Date.now());
      await outbox.settle(claimed!.deliveryId, { kind: 'sent', reply: acceptedBy('250 ok').reply, messageId: '<m@x>', at: Date.now() });
      ids.push(...(await outbox.claimWebhooks(10, Date.now(), 60_000)).map((e) => e.id));
      await outbox.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2); // a counter per outbox made evt_1 twice

    // An outbox of an earlier release: its waiting event goes out with the id it was made with.
    const dataDir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const old = new DatabaseSync(join(dataDir, 'outbox.sqlite'));
    old.exec(`CREATE TABLE webhook_events (id INTEGER PRIMARY KEY AUTOINCREMENT, recipient_key TEXT NOT NULL, payload TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, lease_until INTEGER);
      INSERT INTO webhook_events (recipient_key, payload, next_attempt_at) VALUES ('n/0', '{"type":"delivery.sent"}', 0)`);
    old.close();
    const upgraded = openSqliteOutbox({ dataDir, webhooks: true });
    const [waiting] = await upgraded.claimWebhooks(10, Date.now(), 60_000);
    expect(waiting).toMatchObject({ id: 'evt_1', payload: '{"type":"delivery.sent"}' });
    await upgraded.settleWebhook(waiting!, { delivered: true });
    expect(await upgraded.claimWebhooks(10, Date.now() + 120_000, 60_000)).toEqual([]);
    await upgraded.close();
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
