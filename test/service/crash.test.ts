import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { type ChildService, startChildService, startWithNpm } from '../helpers/child-service.ts';
import { waitFor, waitForAllSent } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const POOL_SIZE = 5;

let sink: SmtpSink;
let dataDir: string;
let children: ChildService[] = [];
beforeEach(async () => {
  sink = await new SmtpSink().start();
  dataDir = mkdtempSync(join(tmpdir(), 'crash-'));
});
afterEach(async () => {
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
  children = [];
  await sink.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function start() {
  const child = await startChildService({ DATA_DIR: dataDir, SMTP_URL: sink.url, SMTP_POOL_SIZE: String(POOL_SIZE) });
  children.push(child);
  return child;
}

async function post(url: string, payload: unknown) {
  const response = await fetch(`${url}/v1/notifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  expect(response.status).toBe(202);
  return (await response.json()) as { id: string };
}

describe('signals, as a terminal and systemd send them', () => {
  async function drainsOnce(signalIt: (child: ChildService) => void, startIt: () => Promise<ChildService>): Promise<ChildService> {
    sink.dataDelayMs = 150; // a message on the wire takes a while: the signals come while some are
    const first = await startIt();
    children.push(first);
    await post(first.url, seedFanOut(120));
    await waitFor(() => sink.received.length >= 10, 20_000, '10 messages');
    signalIt(first);
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');
    sink.dataDelayMs = 0;
    await start();
    await waitFor(() => sink.messageIdsByRecipient().size === 120, 30_000, 'all 120 recipients');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...sink.messageIdsByRecipient().values()].filter((ids) => ids.length > 1)).toEqual([]);
    return first;
  }

  it('Ctrl-C: SIGINT to the whole process group of `npm start` (npm passes it on too), twice: a drained stop, exit 0, no duplicate after the restart', async () => {
    await drainsOnce(
      (child) => {
        process.kill(-child.process.pid!, 'SIGINT');
        setTimeout(() => process.kill(-child.process.pid!, 'SIGINT'), 100); // an impatient second Ctrl-C
      },
      () => startWithNpm({ DATA_DIR: dataDir, SMTP_URL: sink.url, SMTP_POOL_SIZE: String(POOL_SIZE) }, { group: true }),
    );
  });

  it('SIGTERM twice to node alone, 100 ms apart: the second is ignored, the drain finishes', async () => {
    const stopped = await drainsOnce((child) => {
      child.process.kill('SIGTERM');
      setTimeout(() => child.process.kill('SIGTERM'), 100);
    }, start);
    expect(stopped.output()).toContain('already stopping: this signal is ignored');
  });

  it('a signal 5 s or more into the stop forces it: exit 1, said in the log', async () => {
    sink.dataDelayMs = 60_000; // nothing on the wire finishes
    const child = await start();
    await post(child.url, seedFanOut(5));
    await waitFor(() => sink.sessions.length > 0, 10_000, 'a connection to the relay');
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.process.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 5200));
    expect(child.process.exitCode).toBeNull(); // still draining
    child.process.kill('SIGINT');
    expect(await child.exited).toBe(1);
    expect(child.output()).toContain('a second signal while stopping: stopping now');
  });
});

describe('nothing accepted is lost', () => {
  it('SIGKILL in the middle of a 400-recipient fan-out: after a restart all 400 are delivered, duplicates within the pool size', async () => {
    sink.dataDelayMs = 10;
    const first = await start();
    const { id } = await post(first.url, seedFanOut(400));
    await waitFor(() => sink.received.length >= 100, 20_000, '100 messages');
    first.process.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const deliveredBeforeKill = sink.received.length;
    expect(deliveredBeforeKill).toBeLessThan(400);

    const second = await start();
    await waitFor(() => sink.messageIdsByRecipient().size === 400, 30_000, 'all 400 recipients');
    const status = await waitForAllSent(async () => await (await fetch(`${second.url}/v1/notifications/${id}`)).json());
    expect(status.recipients).toHaveLength(400);

    const byRecipient = sink.messageIdsByRecipient();
    const duplicated = [...byRecipient.entries()].filter(([, ids]) => ids.length > 1);
    expect(duplicated.length).toBeLessThanOrEqual(POOL_SIZE);
    for (const [, ids] of duplicated) expect(new Set(ids).size).toBe(1); // a resend carries the same Message-ID
    expect(sink.received.length).toBe(400 + duplicated.reduce((n, [, ids]) => n + ids.length - 1, 0));
  });

  it('SIGKILL three times at random points of a 500-recipient fan-out: all delivered, duplicates within the pool per kill, statuses true', async () => {
    sink.dataDelayMs = 5;
    const kills = 3;
    const first = await start();
    const { id } = await post(first.url, seedFanOut(500));
    let current = first;
    for (let kill = 0; kill < kills; kill++) {
      const threshold = sink.received.length + 20 + Math.floor(Math.random() * 80);
      await waitFor(() => sink.received.length >= threshold, 30_000, `${threshold} messages`);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50)); // anywhere in a message's life
      current.process.kill('SIGKILL');
      await current.exited;
      current = await start();
    }
    await waitFor(() => sink.messageIdsByRecipient().size === 500, 60_000, 'all 500 recipients');
    const status = await waitForAllSent(async () => await (await fetch(`${current.url}/v1/notifications/${id}`)).json());
    expect(status.recipients).toHaveLength(500);
    const duplicated = [...sink.messageIdsByRecipient().values()].filter((ids) => ids.length > 1);
    expect(sink.received.length - 500).toBeLessThanOrEqual(kills * POOL_SIZE);
    for (const ids of duplicated) expect(new Set(ids).size).toBe(1);
  });

  it('SIGTERM: stops taking requests, finishes what is on the wire, exits 0; a restart sends the rest once', async () => {
    sink.dataDelayMs = 10;
    const first = await start();
    await post(first.url, seedFanOut(200));
    await waitFor(() => sink.received.length >= 30, 20_000, '30 messages');
    first.process.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');
    await start();
    await waitFor(() => sink.messageIdsByRecipient().size === 200, 30_000, 'all 200 recipients');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const duplicated = [...sink.messageIdsByRecipient().values()].filter((ids) => ids.length > 1);
    expect(duplicated).toEqual([]);
  });
});
