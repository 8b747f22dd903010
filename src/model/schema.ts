/**
 * The notification request of the calendar backend, as one zod schema.
 * The contract is `examples/README.md` (a copy of the backend's contract);
 * every rule of it is enforced here or in `validate.ts`, and the types the rest
 * of the service uses are inferred from this schema.
 */
import { z } from 'zod';
import { PROVIDER_IDS } from '../conference/providers.ts';
import { emailAddress, multiLineText, phoneNumber, singleLineText, webLink } from './text-rules.ts';

export const NOTIFICATION_TYPES = ['invitation', 'update', 'cancellation', 'reply'] as const;
export const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
export const ATTENDEE_ROLES = ['chair', 'required', 'optional'] as const;
export const ATTENDEE_STATUSES = ['needs-action', 'accepted', 'declined', 'tentative'] as const;
export const REPLY_STATUSES = ['accepted', 'declined', 'tentative'] as const;
export const CHANGE_FIELDS = ['title', 'time', 'location', 'description', 'recurrence', 'conference', 'attendees'] as const;

/** Largest attendee and recipient lists accepted (TrueConf's video selector holds 1600). */
export const MAX_PEOPLE = 5000;

// Date strings are checked against the event's zone in validate.ts, where the zone is known.
const dateOrDateTime = z.string().max(40, 'must be at most 40 characters');

/** Unique values, with the index of the repeat named in the error. */
function unique<T extends z.ZodType>(item: T, what: string) {
  return z.array(item).superRefine((values, ctx) => {
    const seen = new Set<unknown>();
    values.forEach((value, index) => {
      if (seen.has(value)) ctx.addIssue({ code: 'custom', path: [index], message: `repeats ${what} ${String(value)}` });
      seen.add(value);
    });
  });
}

export const recurrenceSchema = z
  .strictObject({
    frequency: z.enum(['daily', 'weekly', 'monthly', 'yearly']),
    interval: z.number().int().min(1).max(999).default(1),
    byWeekday: unique(z.enum(WEEKDAYS), 'the weekday').min(1).max(7).optional(),
    byMonthDay: unique(
      // -1 is the month's last day; other counts from the end are not offered by the calendar.
      z
        .number()
        .int()
        .min(-1)
        .max(31)
        .refine((day) => day !== 0, 'must be 1…31, or -1 for the last day of the month'),
      'the day',
    )
      .min(1)
      .max(31)
      .optional(),
    count: z.number().int().min(1).max(9999).optional(),
    until: dateOrDateTime.optional(),
    exceptions: z.array(dateOrDateTime).max(1000).optional(),
  })
  .superRefine((rule, ctx) => {
    // RFC 5545 §3.3.10: COUNT and UNTIL MUST NOT occur in the same rule.
    if (rule.count !== undefined && rule.until !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'must not be given together with count' });
    }
  });

export const dialInSchema = z.strictObject({
  number: phoneNumber(),
  pin: z
    .string()
    .regex(/^[0-9]{1,20}#?$/, 'must be digits, optionally ending with #')
    .optional(),
});

export const conferenceSchema = z
  .strictObject({
    provider: z.enum(PROVIDER_IDS),
    joinUrl: webLink(),
    label: singleLineText(100).optional(),
    conferenceId: singleLineText(200).optional(),
    dialIn: z.array(dialInSchema).max(20).optional(),
  })
  .superRefine((conference, ctx) => {
    if (conference.provider === 'other' && conference.label === undefined) {
      ctx.addIssue({ code: 'custom', path: ['label'], message: 'is required when provider is "other"' });
    }
  });

export const personSchema = z.strictObject({
  name: singleLineText(200),
  email: emailAddress(),
});

export const attendeeSchema = z.strictObject({
  name: singleLineText(200),
  email: emailAddress(),
  role: z.enum(ATTENDEE_ROLES).default('required'),
  status: z.enum(ATTENDEE_STATUSES).default('needs-action'),
});

export const agendaItemSchema = z.strictObject({
  title: singleLineText(500),
  start: dateOrDateTime,
  end: dateOrDateTime,
  allDay: z.boolean().default(false),
});

/** A language tag: the locale a person reads email in. */
const languageTag = () => z.string().regex(/^[a-zA-Z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/, 'must be a language tag such as ru, en or pt-BR');

/**
 * The organizer: a person, and optionally the language and zone the service
 * writes to them in (NOTIFY_ORGANIZER: the notice of undeliverable invitations).
 */
export const organizerSchema = personSchema.extend({
  locale: languageTag().optional(),
  timeZone: z.string().max(64).optional(),
});

export const recipientSchema = z.strictObject({
  email: emailAddress(),
  locale: languageTag().optional(),
  timeZone: z.string().max(64).optional(),
  rsvp: z.strictObject({ accept: webLink().optional(), tentative: webLink().optional(), decline: webLink().optional() }).optional(),
  agenda: z.array(agendaItemSchema).max(100).optional(),
});

export const eventSchema = z.strictObject({
  uid: z
    .string()
    .min(1, 'must not be empty')
    .max(255, 'must be at most 255 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  sequence: z.number().int().min(0).max(2147483647),
  title: singleLineText(500),
  description: multiLineText(20000).optional(),
  location: singleLineText(500).optional(),
  start: dateOrDateTime,
  end: dateOrDateTime,
  timeZone: z.string().max(64),
  allDay: z.boolean().default(false),
  recurrence: recurrenceSchema.optional(),
  occurrence: dateOrDateTime.optional(),
  conference: conferenceSchema.nullable().default(null),
  url: webLink().optional(),
});

export const changesSchema = z.strictObject({
  fields: unique(z.enum(CHANGE_FIELDS), 'the field').min(1),
  previous: z
    .strictObject({
      title: singleLineText(500).optional(),
      start: dateOrDateTime.optional(),
      end: dateOrDateTime.optional(),
      allDay: z.boolean().optional(),
      location: singleLineText(500).nullable().optional(),
      description: multiLineText(20000).nullable().optional(),
      recurrence: recurrenceSchema.nullable().optional(),
      conference: conferenceSchema.nullable().optional(),
      attendees: z.array(attendeeSchema).max(MAX_PEOPLE).optional(),
    })
    .default({}),
});

export const replySchema = z.strictObject({
  attendee: emailAddress(),
  status: z.enum(REPLY_STATUSES),
  comment: multiLineText(2000).optional(),
});

export const notificationRequestSchema = z.strictObject({
  type: z.enum(NOTIFICATION_TYPES),
  event: eventSchema,
  organizer: organizerSchema,
  attendees: z.array(attendeeSchema).min(1).max(MAX_PEOPLE),
  recipients: z.array(recipientSchema).min(1).max(MAX_PEOPLE).optional(),
  changes: changesSchema.optional(),
  reply: replySchema.optional(),
});

export type NotificationType = (typeof NOTIFICATION_TYPES)[number];
export type Weekday = (typeof WEEKDAYS)[number];
export type ChangeField = (typeof CHANGE_FIELDS)[number];
export type NotificationRequest = z.output<typeof notificationRequestSchema>;
export type CalendarEvent = NotificationRequest['event'];
export type Recurrence = z.output<typeof recurrenceSchema>;
export type Conference = z.output<typeof conferenceSchema>;
export type Person = z.output<typeof personSchema>;
export type Attendee = z.output<typeof attendeeSchema>;
export type Recipient = z.output<typeof recipientSchema>;
export type AgendaItem = z.output<typeof agendaItemSchema>;
export type Changes = z.output<typeof changesSchema>;
export type Reply = z.output<typeof replySchema>;
