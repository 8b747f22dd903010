/**
 * npm run bench:render
 *
 * Prints the time from process start to the first rendered email, and the
 * microseconds per recipient (subject + HTML + text; the calendar part is
 * made once per language) for the seed invitation (examples/skype-invitation.json)
 * with 10 and with 1600 participants, every participant a recipient with
 * their own answer links and agenda. Target: ≤ 40 µs per recipient with 10.
 */
import { DateTime } from 'luxon';
import { seedFanOut } from '../examples/fan-out.ts';
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
