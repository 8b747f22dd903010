/**
 * End-to-end against a real Mailpit: set MAILPIT_URL (its web/API address,
 * e.g. http://localhost:8025) and SMTP_URL (its SMTP port, default
 * smtp://localhost:1025). Mailpit cannot be installed on the project's CI
 * machines, so without MAILPIT_URL this suite reports itself skipped; the
 * same assertions (expectDeliveredInvite) run against the in-test SMTP
 * server in test/transport/delivery.test.ts on every run.
 */
import { DateTime } from 'luxon';
import { MailpitClient } from 'mailpit-api';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { composeMessage } from '../../src/message/compose.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer } from '../../src/render/renderer.ts';
import { createSmtpTransport } from '../../src/transport/smtp.ts';
import { expectDeliveredInvite } from '../helpers/delivered.ts';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';

const MAILPIT_URL = process.env.MAILPIT_URL;

describe.skipIf(!MAILPIT_URL)('Mailpit end-to-end (skipped: set MAILPIT_URL to run it against a real Mailpit)', () => {
  it.each(EXAMPLE_NAMES)('%s: what Mailpit received is a correct invite', async (name) => {
    const mailpit = new MailpitClient(MAILPIT_URL!);
    const config = loadConfig();
    const renderer = await createRenderer();
    const transport = createSmtpTransport(config.smtp);
    const payload = example(name);
    const request = parseNotificationRequest(payload);
    const stamp = DateTime.utc();
    try {
      for (const email of renderer.render(request, { stamp })) {
        const message = await composeMessage(request, email, {
          senderPolicy: 'organizer',
          serviceMailbox: config.sender.serviceMailbox,
          bounceAddress: config.sender.bounceAddress,
          date: stamp.toJSDate(),
        });
        expect(await transport.send(message)).toMatchObject({ status: 'sent' });
        const found = await mailpit.waitForMessage({ query: `message-id:"${message.messageId.slice(1, -1)}"` }, { timeout: 10_000 });
        await expectDeliveredInvite(await mailpit.getMessageSource(found.ID), payload, email.to.email);
      }
    } finally {
      transport.close();
    }
  });
});
