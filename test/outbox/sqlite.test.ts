import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteOutbox } from '../../src/outbox/sqlite/open.ts';
import { example } from '../helpers/examples.ts';
import { CONTRACT_CONSUMERS, notificationOf, type OutboxHarness, outboxContract } from './contract.ts';
import { eventQueueContract } from './events-contract.ts';
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

describe('SQLite outbox', () => {
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
