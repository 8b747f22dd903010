/**
 * The seed invitation (skype-invitation.json) with any number of
 * participants, each a recipient with their own answer links: the large
 * fan-out the tests and benchmarks send (TrueConf's video selector holds 1600).
 *
 * @example seedFanOut(1600).recipients.length // 1600
 */
import { readFileSync } from 'node:fs';

const SEED = readFileSync(new URL('./skype-invitation.json', import.meta.url), 'utf8');

export function seedFanOut(count: number) {
  const payload = JSON.parse(SEED);
  const template = payload.recipients[0];
  payload.attendees = [payload.attendees[0]];
  payload.recipients = [];
  for (let i = 0; i < count; i++) {
    const email = `participant${i}@mydomain.ru`;
    payload.attendees.push({ name: `Участник ${i}`, email, role: 'required', status: 'needs-action' });
    payload.recipients.push({
      ...template,
      email,
      rsvp: Object.fromEntries(
        Object.entries(template.rsvp as Record<string, string>).map(([answer, url]) => [answer, url.replace('a.smirnov', `participant${i}`)]),
      ),
    });
  }
  return payload;
}
