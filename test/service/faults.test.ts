/**
 * The service's three promises under faults, with the real service:
 * nothing accepted is lost, duplicates stay within the bound and carry the
 * same Message-ID, and every status tells the truth.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { openSqliteOutbox } from '../../src/outbox/sqlite/open.ts';
import { example } from '../helpers/examples.ts';
import { FaultRelay } from '../helpers/fault-relay.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { notificationOf } from '../outbox/contract.ts';

const FINAL = ['sent', 'failed', 'expired', 'unknown', 'superseded'];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const post = (service: TestService, payload: unknown) =>
  service.app.inject({ method: 'POST', url: '/v1/notifications', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

async function settled(service: TestService, id: string, timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const status = await service.outbox.status(id);
      return status!.recipients.every((r) => FINAL.includes(r.status)) ? status : null;
    },
    timeoutMs,
    'every recipient final',
  );
}

describe('a relay that resets the connection during DATA', () => {
  it('twice for some recipients: every recipient ends sent, each message taken once (a reset is a temporary failure, not an unknown outcome)', async () => {
    const relay = await new FaultRelay().start();
    cleanups.push(() => relay.stop());
    const drops = new Map<string, number>();
    relay.script.dropDuringData = ([to]) => {
      if (!to || Number(/\d+/.exec(to)?.[0]) % 5 !== 0) return false;
      const count = drops.get(to) ?? 0;
      drops.set(to, count + 1);
      return count < 2;
    };
    // An unknown outcome would wait RETRY_UNCONFIRMED_DELAY_MS (an hour): the test would time out.
    const service = await startTestService({ SMTP_URL: relay.url });
    cleanups.push(() => service.dispose());
    const { id } = (await post(service, seedFanOut(50))).json();
    const status = await settled(service, id);
    expect(status.recipients.filter((r) => r.status !== 'sent')).toEqual([]);
    expect([...drops.values()].filter((count) => count >= 2)).toHaveLength(10);
    for (const recipient of status.recipients) expect(relay.messages.filter((m) => m.to.includes(recipient.email))).toHaveLength(1);
  });
});

describe('a relay that answers the end of DATA after the reply timeout', () => {
  it('gets each message at most twice (one resend, same Message-ID), and the status says unknown', async () => {
    const relay = await new FaultRelay().start();
    cleanups.push(() => relay.stop());
    relay.script.dataReplyDelayMs = 1200; // it takes every message, and answers too late
    const service = await startTestService({ SMTP_URL: relay.url, SMTP_REPLY_TIMEOUT_MS: '400', RETRY_UNCONFIRMED_DELAY_MS: '300' });
    cleanups.push(() => service.dispose());
    const { id } = (await post(service, example('trueconf-weekly'))).json();
    const status = await settled(service, id);
    // Before: a retry per backoff step, every one a copy (9 in 40 s at a relay 1 s too slow).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const recipient of status.recipients) {
      expect(recipient).toMatchObject({ status: 'unknown', attempts: 2, lastReply: { code: 'ETIMEDOUT' } });
      const copies = relay.messages.filter((m) => m.to.includes(recipient.email));
      expect(copies).toHaveLength(2);
      for (const copy of copies) expect(/^Message-ID:\s*(<[^>]+>)/im.exec(copy.raw)?.[1]).toBe(recipient.messageId);
    }
    expect(service.logs.some((l) => l.msg === 'the relay did not answer the end of DATA: resent once, later')).toBe(true);
  });

  it('a relay slow only once: the resend is answered, and the status is sent', async () => {
    const relay = await new FaultRelay().start();
    cleanups.push(() => relay.stop());
    relay.script.dataReplyDelayMs = 1200;
    const service = await startTestService({ SMTP_URL: relay.url, SMTP_REPLY_TIMEOUT_MS: '400', RETRY_UNCONFIRMED_DELAY_MS: '500' });
    cleanups.push(() => service.dispose());
    const { id } = (await post(service, example('skype-invitation'))).json();
    await waitFor(() => relay.messages.length === 1, 5000, 'the first copy');
    relay.script.dataReplyDelayMs = 0;
    const status = await settled(service, id);
    expect(status.recipients[0]).toMatchObject({ status: 'sent', attempts: 2 });
    expect(relay.messages).toHaveLength(2);
  });
});

/**
 * DATA_DIR on a tmpfs of its own, so that the disk really fills. Needs root
 * and mount(8), which the project's machines and CI have (as root).
 */
function tinyDisk(): { dir: string; fill(): void; free(): void; freeSome(files: number): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tiny-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  cleanups.push(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const filler = join(dir, 'filler');
  return {
    dir: join(dir, 'data'),
    fill() {
      // Fill it to the last block: a write of 1 MiB at a time until the disk refuses.
      let n = 0;
      try {
        for (;;) writeFileSync(`${filler}.${n++}`, Buffer.alloc(64 * 1024));
      } catch {
        // full
      }
    },
    free() {
      for (let i = 0; i < 200; i++) rmSync(`${filler}.${i}`, { force: true });
    },
    freeSome(files: number) {
      for (let i = 0; i < files; i++) rmSync(`${filler}.${i}`, { force: true });
    },
  };
}

describe('a full disk under the SQLite outbox', () => {
  it('a nearly full disk: /readyz fails while notifications cannot be stored, though its own few bytes still fit, and passes once room is made', async () => {
    const disk = tinyDisk();
    mkdirSync(disk.dir);
    const outbox = openSqliteOutbox({ dataDir: disk.dir });
    cleanups.push(() => outbox.close());
    await outbox.accept(notificationOf(example('skype-invitation')));
    disk.fill();
    disk.freeSome(1); // 64 KB: room for the probe's row, not for a fan-out
    await expect(outbox.accept(notificationOf(seedFanOut(400)))).rejects.toThrow(/full/i);
    await expect(outbox.checkWritable()).rejects.toThrow(/full/i);
    disk.free();
    await expect(outbox.checkWritable()).resolves.toBeUndefined();
    await outbox.accept(notificationOf(seedFanOut(400)));
  });

  it('stops sending at the first outcome it cannot record, says so in /readyz, and resumes with nothing lost when there is room again', async () => {
    const disk = tinyDisk();
    mkdirSync(disk.dir);
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    sink.dataDelayMs = 20;
    const poolSize = 3;
    const service = await startTestService({ DATA_DIR: disk.dir, SMTP_URL: sink.url, SMTP_POOL_SIZE: String(poolSize) });
    cleanups.push(() => service.dispose().catch(() => undefined));
    const { id } = (await post(service, seedFanOut(150))).json();
    await waitFor(() => sink.received.length >= 20, 20_000, '20 messages');
    disk.fill();
    await waitFor(() => service.logs.some((l) => l.msg === 'cannot record in the outbox: sending stops until it can'), 20_000, 'the worker to notice');
    const atStop = sink.received.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // Nothing more left after the first failed recording than what was already on the wire.
    expect(sink.received.length - atStop).toBeLessThanOrEqual(poolSize);
    const ready = await service.app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().outbox).toMatch(/full/i);
    // A notification that cannot be stored is refused with the real reason, in the documented shape.
    const refused = await post(service, example('skype-invitation'));
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('OUTBOX_UNAVAILABLE');
    expect(service.logs.some((l) => /full/i.test(String((l.err as { message?: string } | undefined)?.message)))).toBe(true);

    disk.free();
    const status = await settled(service, id, 30_000);
    expect(status.recipients.every((r) => r.status === 'sent')).toBe(true);
    expect(sink.messageIdsByRecipient().size).toBe(150);
    // Held outcomes were recorded once there was room: no recipient got a second copy.
    expect(sink.received).toHaveLength(150);
    expect((await service.app.inject('/readyz')).json().outbox).toBe('ok');
  });
});
