import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RELAY_CHECK_INTERVAL_MS, watchRelay } from '../../src/http/relay-health.ts';

describe('watchRelay', () => {
  it('checks the relay at most once per interval however often probes ask, and logs each change once', async () => {
    const lines: { msg: string }[] = [];
    const logger = pino(new Writable({ write: (chunk, _encoding, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
    let clock = 0;
    let checks = 0;
    let answering = true;
    const relay = watchRelay(
      async () => {
        checks++;
        if (!answering) throw new Error('connect ECONNREFUSED 127.0.0.1:1025');
      },
      logger,
      () => clock,
    );
    expect(relay.up).toBeNull();
    expect(await Promise.all([relay.state(), relay.state(), relay.state()])).toEqual(['ok', 'ok', 'ok']);
    clock += RELAY_CHECK_INTERVAL_MS - 1;
    await relay.state();
    expect(checks).toBe(1);
    answering = false;
    clock += 1;
    expect(await relay.state()).toBe('connect ECONNREFUSED 127.0.0.1:1025');
    expect(relay.up).toBe(0);
    clock += RELAY_CHECK_INTERVAL_MS;
    await relay.state();
    answering = true;
    clock += RELAY_CHECK_INTERVAL_MS;
    expect(await relay.state()).toBe('ok');
    expect(relay.up).toBe(1);
    expect(checks).toBe(4);
    expect(lines.map((l) => l.msg)).toEqual(['the SMTP relay does not answer: notifications are still taken and wait in the outbox', 'the SMTP relay answers']);
  });
});
