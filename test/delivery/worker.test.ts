import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { example } from '../helpers/examples.ts';
import { startTestService, waitFor, type TestService } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { notificationOf } from '../outbox/contract.ts';

let sink: SmtpSink;
let service: TestService;
beforeEach(async () => {
  sink = await new SmtpSink().start();
  service = await startTestService({ SMTP_URL: sink.url });
});
afterEach(async () => {
  await service.dispose();
  await sink.stop();
});

describe('the delivery worker', () => {
  it('fails, permanently and at once, a stored request the contract no longer accepts', async () => {
    const broken = notificationOf(example('skype-invitation'));
    const body = JSON.parse(broken.body);
    body.event.conference.joinUrl = 'javascript:alert(1)'; // as if the contract had tightened since it was stored
    await service.outbox.accept({ ...broken, body: JSON.stringify(body) });
    service.worker.kick();
    const status = await waitFor(async () => {
      const s = await service.outbox.status(broken.id);
      return s!.recipients[0]!.status === 'failed' ? s : null;
    });
    expect(status.recipients[0]!.lastReply).toMatchObject({ code: 'EINVALID', message: expect.stringContaining('event.conference.joinUrl') });
    expect(status.recipients[0]!.attempts).toBe(1);
    expect(sink.received).toHaveLength(0);
  });
});
