import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveEventTimes } from '../../src/model/event-times.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { recipientsOf } from '../../src/model/people.ts';
import type { NotificationRequest } from '../../src/model/schema.ts';
import { brandingSchema } from '../../src/render/branding.ts';
import { createRenderer, type Renderer } from '../../src/render/renderer.ts';
import { fill, joined, slotText, slotted } from '../../src/render/slots.ts';
import { oneLine, tidyText } from '../../src/render/text-shape.ts';
import { localeView, recipientData, zoneView } from '../../src/render/views.ts';
import { EXAMPLE_NAMES, example, exampleIn } from '../helpers/examples.ts';

let grouped: Renderer;
beforeAll(async () => {
  grouped = await createRenderer();
});

const stamp = DateTime.fromISO('2026-11-20T08:15:00Z');

/**
 * The reference: every recipient's templates run on their own, with the
 * renderer's own views and templates, no groups, no slots.
 */
const reference = {
  render(request: NotificationRequest) {
    const times = resolveEventTimes(request);
    const { catalog, templates } = grouped;
    const email = templates.emails[request.type];
    const options = { catalog, branding: brandingSchema.parse({}), participantsShown: 10, missingLabels: 'fallback' } as const;
    return recipientsOf(request).map((recipient) => {
      const locale = catalog.resolveLocale(recipient.locale);
      const localeLayer = localeView(request, times, locale, options);
      const zoneLayer = zoneView(request, times, localeLayer, recipient.timeZone ?? times.zone);
      const name = [...request.attendees, request.organizer].find((p) => p.email.toLowerCase() === recipient.email.toLowerCase())?.name ?? null;
      const context: Record<string, unknown> = { ...zoneLayer.context, ...recipientData(request, times, zoneLayer, recipient, name) };
      const data = { data: { translate: localeLayer.templates.translate } };
      const subject = oneLine(email.subject(context, data));
      context.subject = subject;
      return { subject, html: email.html(context, data), text: tidyText(email.text(context, data)) };
    });
  },
};

describe('rendering once per group of recipients', () => {
  it.each(
    EXAMPLE_NAMES.flatMap((name) => [
      [name, 'ru'],
      [name, 'en'],
    ]),
  )('gives the bytes of rendering each recipient: %s in %s', (name, locale) => {
    const request = parseNotificationRequest(exampleIn(name!, locale!));
    const a = grouped.render(request, { stamp });
    const b = reference.render(request);
    expect(a.map((e) => [e.subject, e.html, e.text])).toEqual(b.map((e) => [e.subject, e.html, e.text]));
    // The segments the message encodes (src/message/base64-segments.ts) are the same HTML.
    expect(a.map((e) => joined(e.htmlSegments!))).toEqual(b.map((e) => e.html));
  });

  it('keeps each recipient’s own strings, escaped once, when many share a shape', () => {
    const payload = example('skype-invitation');
    const template = payload.recipients[0];
    payload.recipients = [];
    for (let i = 0; i < 5; i++) {
      const email = `p${i}@mydomain.ru`;
      payload.attendees.push({ name: `<b>Участник</b> ${i} & "co"`, email });
      payload.recipients.push({
        ...template,
        email,
        rsvp: {
          accept: `https://mail.mydomain.ru/rsvp/${i}?a=accept&who=<${i}>`.replace(/[<>]/g, ''),
          decline: `https://mail.mydomain.ru/rsvp/${i}?a=decline`,
        },
        agenda: [{ title: `План <${i}> & «${i}»`, start: '2023-08-28T09:00:00', end: '2023-08-28T09:30:00' }],
      });
    }
    const request = parseNotificationRequest(payload);
    const a = grouped.render(request, { stamp });
    const b = reference.render(request);
    expect(a.map((e) => [e.subject, e.html, e.text])).toEqual(b.map((e) => [e.subject, e.html, e.text]));
    expect(a[3]!.html).toContain('https://mail.mydomain.ru/rsvp/3?a&#x3D;accept&amp;who&#x3D;3');
    expect(a[3]!.html).toContain('План &lt;3&gt; &amp; «3»');
    expect(a[3]!.text).toContain('План <3> & «3»');
    expect(a[3]!.html).not.toContain('rsvp/2');
    // One group, one shape: its recipients share the very strings of the HTML between their own (encoded once per shape).
    expect(new Set(a.map((e) => e.htmlSegments!.shared)).size).toBe(1);
    expect(a[3]!.htmlSegments!.own).toContain('https://mail.mydomain.ru/rsvp/3?a&#x3D;accept&amp;who&#x3D;3');
  });

  it('fills slots, escaping only for HTML', () => {
    const { context, values, shape } = slotted({ rsvp: { accept: 'https://x?a=1&b=2' }, agenda: [{ title: 'A<B', isThisEvent: true }], none: null });
    expect(shape).toBe('{rsvp:{accept:s}agenda:[1{title:sisThisEvent:true}]none:null}');
    const text = slotText(`<a href="${(context.rsvp as { accept: string }).accept}">${(context.agenda as { title: string }[])[0]!.title}</a>`);
    expect(fill(text, values, true)).toBe('<a href="https://x?a&#x3D;1&amp;b&#x3D;2">A&lt;B</a>');
    expect(fill(text, values, false)).toBe('<a href="https://x?a=1&b=2">A<B</a>');
  });
});
