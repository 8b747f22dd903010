import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedFanOut } from '../../examples/fan-out.ts';
import { loadConfig } from '../../src/config/config.ts';
import { messageOptionsOf, rendererFor, rendererOptionsOf } from '../../src/config/parts.ts';
import type { DkimKey } from '../../src/message/dkim-keys.ts';
import { createDkimSigner } from '../../src/message/dkim-signer.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { recipientsOf } from '../../src/model/people.ts';
import type { DkimSetting, PrepareTask } from '../../src/prepare/preparation.ts';
import { createPreparer, type Preparer, type Ready } from '../../src/prepare/preparer.ts';
import type { Renderer } from '../../src/render/renderer.ts';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';

const config = loadConfig({});
let renderer: Renderer;
beforeAll(async () => {
  renderer = await rendererFor(config);
});

/** A preparer with this project's settings: on `threads` threads, or on this one (0). */
function preparerWith(
  threads: number,
  extra: { keptMessages?: number; dkim?: DkimSetting; onDkimFallback?: (domain: string, as: string | null) => void } = {},
) {
  return createPreparer({
    threads,
    renderer,
    rendererOptions: rendererOptionsOf(config),
    message: messageOptionsOf(config),
    keptMessages: extra.keptMessages ?? 10,
    ...(extra.dkim ? { dkim: extra.dkim } : {}),
    ...(extra.onDkimFallback ? { onDkimFallback: extra.onDkimFallback } : {}),
  });
}

/** Every recipient of a payload, as one task (or tasks of `size`). */
function tasksOf(id: string, payload: unknown, size = 1000): PrepareTask[] {
  const body = JSON.stringify(payload);
  const recipients = recipientsOf(parseNotificationRequest(payload)).map((r) => r.email);
  const tasks: PrepareTask[] = [];
  for (let i = 0; i < recipients.length; i += size)
    tasks.push({
      notificationId: id,
      body,
      acceptedAt: Date.UTC(2026, 11, 7, 9),
      deliveries: recipients.slice(i, i + size).map((recipient) => ({ recipient })),
    });
  return tasks;
}

/** A message's bytes, its MIME boundaries (a tag random per process and thread, and a count: mime.ts) numbered in order. */
function bytesOf(ready: Ready): string {
  if (ready.kind !== 'message') throw new Error(`${ready.code}: ${ready.message}`);
  const boundaries = new Map<string, string>();
  return ready.message.raw.toString('latin1').replace(/=_[0-9a-f]{12}\.[0-9a-z]+/g, (mark) => {
    if (!boundaries.has(mark)) boundaries.set(mark, `=_boundary.${boundaries.size}`);
    return boundaries.get(mark)!;
  });
}

/** The message without its first header field, the DKIM-Signature a signer puts first (with its folded lines). */
function withoutSignature(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  expect(text.startsWith('DKIM-Signature: ')).toBe(true);
  return Buffer.from(text.replace(/^DKIM-Signature: .*\r\n(?:[ \t].*\r\n)*/, ''), 'latin1');
}

function rsaKey(domainName: string, keySelector: string): DkimKey {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { domainName, keySelector, privateKey };
}

describe('preparing deliveries on rendering threads and on the calling thread', () => {
  const open: Preparer[] = [];
  const opened = (preparer: Preparer) => (open.push(preparer), preparer);
  afterAll(async () => {
    for (const preparer of open) await preparer.close();
  });

  it('gives the same bytes for every example, delivery by delivery', async () => {
    const here = opened(preparerWith(0));
    const threads = opened(preparerWith(2));
    for (const name of EXAMPLE_NAMES) {
      for (const task of tasksOf(name, example(name), 2)) {
        const [mine, theirs] = await Promise.all([here.prepare(task), threads.prepare(task)]);
        expect(theirs.map(bytesOf), name).toEqual(mine.map(bytesOf));
        expect(theirs.map((r) => (r.kind === 'message' ? r.message.envelope : null))).toEqual(
          mine.map((r) => (r.kind === 'message' ? r.message.envelope : null)),
        );
      }
    }
  });

  it("moves each sent message's memory back to the threads, which write later messages over it, every one whole", async () => {
    const here = opened(preparerWith(0, { keptMessages: 4 }));
    const threads = opened(preparerWith(2, { keptMessages: 4 }));
    const tasks = tasksOf('fan-out', seedFanOut(120), 10);
    const sent: Ready[] = [];
    for (const task of tasks) {
      const [mine, theirs] = await Promise.all([here.prepare(task), threads.prepare(task)]);
      expect(theirs.map(bytesOf)).toEqual(mine.map(bytesOf));
      for (const r of [...mine, ...theirs]) if (r.kind === 'message') r.message.release?.();
      sent.push(...theirs);
    }
    // What the relay took went back with the next tasks, up to four a task: detached here, in a thread's hands.
    const moved = sent.filter((r) => r.kind === 'message' && r.message.raw.buffer.byteLength === 0).length;
    expect(moved).toBe(4 * (tasks.length - 1));
  });

  it('signs with DKIM where it composes, as the transport would have, and tells of a From domain without a key once', async () => {
    const dkim = { keys: [rsaKey('mydomain.ru', 'invites')], serviceDomain: 'mydomain.ru' };
    const signingThread = opened(preparerWith(1, { dkim }));
    const signedThere = await signingThread.prepare(tasksOf('skype', example('skype-invitation'))[0]!);
    // RSA signatures (PKCS #1 v1.5) are deterministic: the same message signed here gets the same header.
    const signer = createDkimSigner(dkim.keys, dkim.serviceDomain);
    for (const ready of signedThere) {
      if (ready.kind !== 'message') throw new Error(ready.message);
      expect(ready.message.signed).toBe(true); // the transport sends it as it is
      expect(ready.message.raw.toString('latin1').match(/^DKIM-Signature: /gm)).toHaveLength(1);
      expect(ready.message.raw.toString('latin1').replace(/\r\n[ \t]+/g, ' ')).toMatch(
        /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=mydomain\.ru; q=dns\/txt; s=invites;/,
      );
      const { raw } = await signer.sign(ready.message.from, withoutSignature(ready.message.raw));
      expect(raw.equals(ready.message.raw)).toBe(true);
    }
    // mydomain.ru has no key here, nor has the service domain: unsigned, and said once over two threads.
    const told: string[] = [];
    const threads = opened(
      preparerWith(2, { dkim: { keys: [rsaKey('partner.ru', 'cal')], serviceDomain: 'nokey.example' }, onDkimFallback: (d, as) => told.push(`${d}→${as}`) }),
    );
    const unsigned = await Promise.all(tasksOf('fan-out', seedFanOut(40), 5).map((task) => threads.prepare(task)));
    for (const ready of unsigned.flat()) expect(bytesOf(ready)).not.toMatch(/^DKIM-Signature:/m);
    expect(told).toEqual(['mydomain.ru→null']);
  });

  it('answers a stored request the contract refuses with EINVALID (permanent), and a recipient not in it with ERENDER (permanent)', async () => {
    for (const preparer of [opened(preparerWith(0)), opened(preparerWith(1))]) {
      const broken = example('skype-invitation');
      broken.event.conference.joinUrl = 'javascript:alert(1)';
      const [invalid] = await preparer.prepare({
        notificationId: 'broken',
        body: JSON.stringify(broken),
        acceptedAt: Date.now(),
        deliveries: [{ recipient: 'a.smirnov@mydomain.ru' }],
      });
      expect(invalid).toMatchObject({ kind: 'problem', code: 'EINVALID', permanent: true, message: expect.stringContaining('event.conference.joinUrl') });
      const [stranger] = await preparer.prepare({
        ...tasksOf('skype', example('skype-invitation'))[0]!,
        deliveries: [{ recipient: 'nobody@elsewhere.example' }],
      });
      expect(stranger).toMatchObject({ kind: 'problem', code: 'ERENDER', permanent: true });
    }
  });

  it('refuses tasks once closed, rather than starting threads again', async () => {
    const threads = preparerWith(1);
    await threads.close();
    await expect(threads.prepare(tasksOf('skype', example('skype-invitation'))[0]!)).rejects.toMatchObject({ code: 'EPREPARERCLOSED' });
  });
});
