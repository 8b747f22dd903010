import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { messageBuffers } from '../../src/message/message-buffers.ts';
import { mimeMessage } from '../../src/message/mime.ts';

const fields = [
  ['From', { name: 'Анна Смирнова', address: 'a.smirnova@mydomain.ru' }],
  ['Subject', 'Приглашение: планёрка'],
] as const;
const message = (text: string, memory?: (size: number) => Buffer) =>
  mimeMessage(
    fields,
    {
      multipart: 'alternative',
      parts: [
        { contentType: 'text/plain; charset=utf-8', text },
        { contentType: 'text/html; charset=utf-8', text: `<p>${text}</p>` },
      ],
    },
    memory,
  );
/** The bytes without the boundaries, which count up per message. */
const unbounded = (raw: Buffer) => raw.toString('latin1').replace(/=_[0-9a-f]+\.[0-9a-z]+/g, '=_');

describe('messageBuffers', () => {
  it('writes the next message over memory handed back, with nothing of the last one left in it', () => {
    const buffers = messageBuffers(4);
    const long = buffers.take(30_000);
    long.fill(0xaa);
    buffers.recycle(long);
    const raw = message('коротко', buffers.take);
    expect(raw.buffer).toBe(long.buffer);
    expect(unbounded(raw)).toBe(unbounded(message('коротко')));
    expect(raw.includes(0xaa)).toBe(false);
  });

  it('never gives memory still held to another message: not before it is handed back, not twice after', () => {
    const buffers = messageBuffers(4);
    const first = message('первое письмо '.repeat(300), buffers.take);
    const copy = Buffer.from(first);
    const second = message('второе письмо '.repeat(300), buffers.take);
    expect(second.buffer).not.toBe(first.buffer);
    expect(first.equals(copy)).toBe(true);
    buffers.recycle(second);
    buffers.recycle(second); // a second hand-back is ignored
    const third = buffers.take(second.length);
    const fourth = buffers.take(second.length);
    expect(third.buffer).toBe(second.buffer);
    expect(fourth.buffer).not.toBe(third.buffer);
  });

  it('keeps at most as many buffers as it was told, and ignores one it did not give', () => {
    const buffers = messageBuffers(1);
    const [a, b] = [buffers.take(1000), buffers.take(1000)];
    buffers.recycle(Buffer.alloc(1000));
    buffers.recycle(a);
    buffers.recycle(b);
    expect(buffers.take(1000).buffer).toBe(a.buffer);
    expect(buffers.take(1000).buffer).not.toBe(b.buffer);
  });

  it('takes back memory that went to another thread and came back, once, and none that came back detached', async () => {
    const buffers = messageBuffers(4);
    const sent = buffers.take(20_000);
    const { port1, port2 } = new MessageChannel();
    // To the main thread and back: each move detaches the memory where it was.
    const back = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
    port1.postMessage(sent.buffer, [sent.buffer as ArrayBuffer]);
    const memory = await back;
    port1.close();
    expect(sent.buffer.byteLength).toBe(0);
    buffers.adopt(memory);
    buffers.adopt(memory); // a second hand-back is ignored
    buffers.adopt(new ArrayBuffer(0)); // memory moved on again: nothing to take
    const [next, after] = [buffers.take(20_000), buffers.take(20_000)];
    expect(next.buffer).toBe(memory);
    expect(after.buffer).not.toBe(memory);
  });
});
