/**
 * npm run bench:render
 *
 * Prints the time from process start to the first rendered email, and the
 * microseconds per recipient (subject + HTML + text; the calendar part is
 * made once per language) for the seed invitation (examples/skype-invitation.json)
 * with 10 and with 1600 participants, every participant a recipient with
 * their own answer links and agenda. Target: ≤ 40 µs per recipient with 10.
 *
 * Then the MIME message of each of those emails, composed two ways in the same
 * run: by the service (src/message/compose.ts on mime.ts) and by nodemailer's
 * MailComposer with `icalEvent` (the library path), with the same headers
 * and parts: microseconds per message each.
 */
import { DateTime } from 'luxon';
import MailComposer from 'nodemailer/lib/mail-composer';
import { seedFanOut } from '../examples/fan-out.ts';
import { loadConfig } from '../src/config/config.ts';
import { messageOptionsOf } from '../src/config/parts.ts';
import { composeMessage } from '../src/message/compose.ts';
import { parseNotificationRequest } from '../src/model/parse.ts';
import type { NotificationRequest } from '../src/model/schema.ts';
import { createRenderer } from '../src/render/renderer.ts';

function seedWith(participants: number): NotificationRequest {
  return parseNotificationRequest(seedFanOut(participants));
}

const renderer = await createRenderer();
const stamp = DateTime.utc();
renderer.render(seedWith(1), { stamp });
const firstRenderMs = performance.now(); // performance.now() counts from process start

function measure(participants: number, minimumMs: number) {
  const request = seedWith(participants);
  for (let i = 0; i < 3; i++) renderer.render(request, { stamp }); // warm up
  let recipients = 0;
  let bytes = 0;
  const started = performance.now();
  while (performance.now() - started < minimumMs) {
    for (const email of renderer.render(request, { stamp })) bytes += email.html.length + email.text.length + email.subject.length;
    recipients += participants;
  }
  const elapsed = performance.now() - started;
  return { perRecipientUs: (elapsed * 1000) / recipients, recipients, kbPerEmail: bytes / recipients / 1024 };
}

const small = measure(10, 3000);
const large = measure(1600, 5000);
const rssMb = process.memoryUsage().rss / 1024 / 1024;
console.log(`process start → first render: ${firstRenderMs.toFixed(0)} ms`);
console.log(
  `seed invitation, 10 participants:   ${small.perRecipientUs.toFixed(1)} µs per recipient (${small.recipients} rendered, ${small.kbPerEmail.toFixed(1)} KiB each; target ≤ 40 µs)`,
);
console.log(`seed invitation, 1600 participants: ${large.perRecipientUs.toFixed(1)} µs per recipient (${large.recipients} rendered)`);
console.log(`RSS after: ${rssMb.toFixed(0)} MB`);

// The same messages through the service's composer and through nodemailer's, alternately, in this process.
const composeRequest = seedWith(10);
const emails = renderer.render(composeRequest, { stamp });
const messageOptions = { ...messageOptionsOf(loadConfig({})), date: new Date() };
const ours = async () => {
  for (const email of emails) await composeMessage(composeRequest, email, messageOptions);
};
const library = async () => {
  for (const email of emails) {
    await new MailComposer({
      from: { name: composeRequest.organizer.name, address: composeRequest.organizer.email },
      to: { name: email.to.name ?? '', address: email.to.email },
      subject: email.subject,
      messageId: `<${email.to.email}.bench@example.com>`,
      date: messageOptions.date,
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'OOF, AutoReply', 'Content-Language': email.locale },
      text: email.text,
      html: email.html,
      icalEvent: { method: email.calendar.method, content: email.calendar.content },
      attachments: [{ filename: 'invite.ics', content: email.calendar.content, contentType: 'application/ics' }],
      textEncoding: 'base64',
    })
      .compile()
      .build();
  }
};
async function usPerMessage(compose: () => Promise<void>, minimumMs: number): Promise<number> {
  for (let i = 0; i < 20; i++) await compose(); // warm up
  let messages = 0;
  const started = performance.now();
  while (performance.now() - started < minimumMs) {
    await compose();
    messages += emails.length;
  }
  return ((performance.now() - started) * 1000) / messages;
}
const composeUs = { ours: [] as number[], library: [] as number[] };
for (let round = 0; round < 3; round++) {
  composeUs.ours.push(await usPerMessage(ours, 1000));
  composeUs.library.push(await usPerMessage(library, 1000));
}
const best = (values: number[]) => Math.min(...values);
console.log(
  `MIME message per recipient: service composer ${best(composeUs.ours).toFixed(0)} µs, nodemailer MailComposer ${best(composeUs.library).toFixed(0)} µs (${(best(composeUs.library) / best(composeUs.ours)).toFixed(1)}× the time; best of 3 alternating runs)`,
);
