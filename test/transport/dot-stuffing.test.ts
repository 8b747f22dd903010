/**
 * nodemailer's DATA stream carries two local fast paths (patches/nodemailer+10.6.0.patch,
 * applied by `postinstall`): a chunk that needs nothing inserted is found by one
 * regular expression and sent as it is; in any other, line ends are found with
 * indexOf instead of looking at every byte in JavaScript. These tests hold it to what the stream must do
 * (RFC 5321 §4.5.2 and §2.3.8): every line end sent as CRLF, a bare CR or LF
 * made CRLF, a dot at the start of a line doubled, the data ended with
 * CRLF.CRLF, however the message is cut into chunks.
 */
import DataStream from 'nodemailer/lib/smtp-connection/data-stream.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../src/message/compose.ts';
import { createSmtpTransport } from '../../src/transport/smtp.ts';
import { random } from '../helpers/random.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

/** What the wire must carry for `data`, written from the RFC's rules rather than from the stream's code. */
function expectedOnTheWire(data: Buffer): Buffer {
  const lines = data.toString('latin1').replace(/\r(?!\n)|(?<!\r)\n/g, '\r\n');
  const stuffed = lines.replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}

async function throughDataStream(chunks: readonly Buffer[]): Promise<{ bytes: Buffer; inByteCount: number; outByteCount: number }> {
  const stream = new DataStream() as DataStream & { inByteCount: number; outByteCount: number };
  const output: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => output.push(chunk));
  const ended = new Promise((resolve) => stream.on('end', resolve));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await ended;
  return { bytes: Buffer.concat(output), inByteCount: stream.inByteCount, outByteCount: stream.outByteCount };
}

describe('the DATA stream (dot-stuffing and line ends)', () => {
  it.each([
    ['an empty message', ['']],
    ['a dot as the first byte', ['.hidden\r\n']],
    ['a lone dot line in the middle', ['a\r\n.\r\nb']],
    ['a dot line cut between CR and LF', ['a\r', '\n.b']],
    ['a dot after a bare CR (SMTP smuggling)', ['a\r.\r\nb']],
    ['a dot after a bare LF', ['a\n.b\n']],
    ['a bare CR at the very end', ['a\r']],
    ['CRLF at the very end', ['a\r\n']],
    ['every byte its own chunk', [...'x\r\n.\r\r\n\n.y.']],
  ])('%s', async (_name, parts) => {
    const chunks = parts.map((part) => Buffer.from(part, 'latin1'));
    const data = Buffer.concat(chunks);
    const sent = await throughDataStream(chunks);
    expect(sent.bytes.toString('latin1')).toBe(expectedOnTheWire(data).toString('latin1'));
    expect(sent.inByteCount).toBe(data.length);
    expect(sent.outByteCount).toBe(sent.bytes.length);
  });

  it('sends what the rules say for 3000 random messages of CR, LF, dots and letters, cut at random', async () => {
    const next = random(5321);
    const alphabet = [0x0d, 0x0a, 0x2e, 0x61];
    for (let run = 0; run < 3000; run++) {
      const data = Buffer.from(Array.from({ length: Math.floor(next() * 40) }, () => alphabet[Math.floor(next() * alphabet.length)]!));
      const chunks: Buffer[] = [];
      for (let at = 0; at < data.length; ) {
        const size = 1 + Math.floor(next() * 8);
        chunks.push(data.subarray(at, at + size));
        at += size;
      }
      const sent = await throughDataStream(chunks);
      expect(sent.bytes.toString('latin1'), `run ${run}: ${JSON.stringify(data.toString('latin1'))}`).toBe(expectedOnTheWire(data).toString('latin1'));
    }
  });
});

describe('dot-stuffed messages over SMTP', () => {
  const sink = new SmtpSink();
  beforeAll(() => sink.start());
  afterAll(() => sink.stop());

  it('arrive byte for byte as composed, lines that start with a dot included', async () => {
    const transport = createSmtpTransport({ url: sink.url, poolSize: 1 });
    const raw = Buffer.from(
      ['From: a@example.org', 'To: b@example.org', 'Subject: dots', '', '.', '..two', '.starts with a dot', 'end', ''].join('\r\n'),
      'latin1',
    );
    const message: OutgoingMessage = {
      from: 'a@example.org',
      envelope: { from: 'a@example.org', to: ['b@example.org'] },
      messageId: '<dots@example.org>',
      raw,
    };
    try {
      expect((await transport.send(message)).verdict).toBe('accepted');
    } finally {
      transport.close();
    }
    expect(sink.received.at(-1)!.raw.toString('latin1')).toBe(raw.toString('latin1'));
  });
});
