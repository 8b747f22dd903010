/**
 * Every rule a bounce is read by is linear in its input: fed a megabyte of
 * text built to make backtracking patterns quadratic (the old reader took
 * 17–43 s on 120 KB of `<a@a@a@…`, and would have taken half an hour on the
 * listener's megabyte), each answers well within a second. And the service's
 * main thread is never the one that reads: a message that takes longer than
 * the budget is given up, while timers on the main thread keep firing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { classifyBounce } from '../../src/bounce/classify.ts';
import { readBounce } from '../../src/bounce/read.ts';
import { createBounceReader } from '../../src/bounce/reader.ts';
import { TEXT_RULES } from '../../src/bounce/rules.ts';

const MEGABYTE = 1024 * 1024;
const fill = (unit: string, tail = '') => unit.repeat(Math.ceil(MEGABYTE / unit.length)) + tail;

/** Shapes that make patterns with adjacent or nested quantifiers backtrack. */
const PATHOLOGICAL: Record<string, string> = {
  'one open bracket, then at signs (the old reader: 2.4 s for 60 KB, four times as long for each doubling)': `<${fill('a@')}`,
  'open brackets and at signs': fill('<a@'),
  'at signs': fill('a@'),
  'one letter': fill('a', '!'),
  'digits of a reply code': fill('5'),
  'reply codes': fill('550 '),
  'enhanced codes without an end': fill('5.1.'),
  spaces: fill(' ', 'x'),
  dots: fill('.', 'x'),
  'blank-ish lines': fill('\n \n'),
  'folded lines': fill('\n\t'),
  'one short line each': fill('a@b\n'),
  'typed values': fill('rfc822;'),
  colons: fill(':'),
};

/** Well within a second for a megabyte; a quadratic rule takes minutes. */
const BOUND_MS = 1000;

function timed<T>(run: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = run();
  return { result, ms: performance.now() - started };
}

describe('the text rules are linear', () => {
  for (const [rule, apply] of Object.entries(TEXT_RULES)) {
    it.each(Object.entries(PATHOLOGICAL))(`${rule}: %s`, (_shape, text) => {
      expect(timed(() => apply(text)).ms).toBeLessThan(BOUND_MS);
    });
  }

  it.each(Object.entries(PATHOLOGICAL))('the whole classification: %s in the text, a status part and the headers', (_shape, text) => {
    const headers = new Map(['from', 'subject', 'x-failed-recipients', 'auto-submitted'].map((name) => [name, text.slice(0, 2000)]));
    const mail = { headers, addressedTo: [], text: `This is the qmail-send program\n${text}`, deliveryStatus: [text, `Reporting-MTA: dns; x\n\n${text}`] };
    const { ms } = timed(() => classifyBounce(mail));
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('a crafted megabyte is parsed and classified within the reader’s budget', async () => {
    const raw = Buffer.from(
      `From: MAILER-DAEMON@x\r\nSubject: failure notice\r\nTo: <${fill('a@').slice(0, 200_000)}\r\n\r\nHi. This is the qmail-send program\n${fill('<a@')}`,
    );
    const started = performance.now();
    const bounce = await readBounce(raw);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(bounce.kind).toBe('report');
  });
});

describe('the bounce reader', () => {
  it('reads in a thread: the main thread’s timers keep firing while a large message is read', async () => {
    const reader = createBounceReader();
    await reader.read(Buffer.from('Subject: warm-up\r\n\r\nx')); // the thread has started
    const delay = monitorEventLoopDelay({ resolution: 5 });
    const raw = Buffer.from(`From: MAILER-DAEMON@x\r\nSubject: failure notice\r\n\r\n${fill('<a@ 550 5.1.1 a@b\n').slice(0, 4 * MEGABYTE)}`);
    delay.enable();
    const started = performance.now();
    const bounce = await reader.read(raw);
    const readMs = performance.now() - started;
    delay.disable();
    await reader.close();
    expect(bounce.kind).toBe('report');
    // The longest the main thread was held while the thread read: nothing like the read itself.
    expect(delay.max / 1e6).toBeLessThan(Math.max(50, readMs / 2));
  });

  it('gives up a message that takes longer than its budget, says why, and reads the next one on a new thread', async () => {
    const reader = createBounceReader({ budgetMs: 100 });
    // Nine megabytes of quoted-printable UTF-8 (~0.6 s to decode here).
    const slow = Buffer.from(
      `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${'=D0=AD=\r\n'.repeat(1_000_000)}`,
    );
    expect(await reader.read(slow)).toEqual({ kind: 'unreadable', reason: 'took longer than 100 ms to read' });
    expect((await reader.read(Buffer.from('From: a@b\r\nSubject: hello\r\n\r\nhi'))).kind).toBe('not-a-bounce');
    await reader.close();
  });
});
