/**
 * Rendering once per group of recipients who see the same email but for a
 * few strings of their own (address, answer links, agenda lines): why it
 * exists is speed. A 1600-recipient invitation in two languages renders its
 * templates a handful of times, not 1600 (bench:render); nothing else in the
 * project knows about it, and test/render/group-rendering.test.ts holds the
 * plain per-recipient path it must equal byte for byte.
 *
 * The templates run once per (language, zone, *shape*): which of those
 * strings exist, how many agenda lines, which line is this event, with each
 * such string replaced by a slot marker; per recipient the output is the text
 * between the markers with the recipient's strings put in, HTML-escaped
 * exactly as Handlebars does for the HTML part. The request model refuses
 * control characters, so a marker (U+0001 … U+0002) can only come from here.
 * A recipient's own string may be passed into a translated string
 * (`{{t "key" name=recipient.name}}`); it must not pick a key.
 */
import Handlebars from 'handlebars';
import type { CompiledEmail, TemplateData } from './templates.ts';
import { oneLine } from './text-shape.ts';

const SLOT = /\u0001(\d+)\u0002/;

/** Per-recipient data: strings become slots; booleans, nulls and list lengths make the shape. */
export type RecipientData = { readonly [key: string]: RecipientValue };
type RecipientValue = string | boolean | null | undefined | RecipientData | readonly RecipientValue[];

/** The recipient's data with every string a slot marker, the strings in slot order, and the shape. */
export interface Slotted {
  readonly shape: string;
  readonly context: RecipientData;
  readonly values: readonly string[];
}

/**
 * Replaces every string of `data` by a slot marker.
 *
 * @example slotted({ rsvp: { accept: 'https://a' } }) // { shape: '{rsvp:{accept:s}}', values: ['https://a'], context: { rsvp: { accept: '\u00010\u0002' } } }
 */
export function slotted(data: RecipientData): Slotted {
  const values: string[] = [];
  const shape: string[] = [];
  const walk = (value: RecipientValue): RecipientValue => {
    if (typeof value === 'string') {
      shape.push(value === '' ? 'e' : 's'); // an empty string is falsy in templates: part of the shape
      if (value === '') return value;
      values.push(value);
      return `\u0001${values.length - 1}\u0002`;
    }
    if (value === null || value === undefined || typeof value === 'boolean') {
      shape.push(String(value));
      return value;
    }
    if (Array.isArray(value)) {
      shape.push(`[${value.length}`);
      const out = value.map(walk);
      shape.push(']');
      return out;
    }
    shape.push('{');
    const out: Record<string, RecipientValue> = {};
    for (const [key, child] of Object.entries(value as RecipientData)) {
      shape.push(`${key}:`);
      out[key] = walk(child);
    }
    shape.push('}');
    return out;
  };
  const context = walk(data) as RecipientData;
  return { shape: shape.join(''), context, values };
}

/** A rendered text split at its slots: `parts[0] slot[0] parts[1] … parts[n]`. */
export interface SlotText {
  readonly parts: readonly string[];
  readonly slots: readonly number[];
}

/** Splits template output at its slot markers. */
export function slotText(rendered: string): SlotText {
  const pieces = rendered.split(SLOT);
  const parts: string[] = [];
  const slots: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    if (i % 2 === 0) parts.push(pieces[i]!);
    else slots.push(Number(pieces[i]));
  }
  return { parts, slots };
}

/**
 * Fills the slots with one recipient's strings; `escapeHtml` for the HTML part.
 *
 * @example fill(slotText('<a href="\u00010\u0002">'), ['https://x?a=1&b=2'], true) // '<a href="https://x?a&#x3D;1&amp;b&#x3D;2">'
 */
export function fill(text: SlotText, values: readonly string[], escapeHtml: boolean): string {
  return joined(segments(text, values, escapeHtml));
}

/**
 * A text as the text its group shares, with one recipient's own strings
 * between: `shared[0] + own[0] + shared[1] + … + shared[n]`. The shared
 * strings are the same objects for every recipient of a group, so what is
 * made of them (their UTF-8 and base64, src/message/base64-segments.ts) can be made
 * once per group.
 */
export interface TextSegments {
  readonly shared: readonly string[];
  readonly own: readonly string[];
}

/**
 * One recipient's strings in the slots of `text`, as segments (`escapeHtml`
 * for the HTML part).
 *
 * @example segments(slotText('<b>\u00010\u0002</b>'), ['A&B'], true) // { shared: ['<b>', '</b>'], own: ['A&amp;B'] }
 */
export function segments(text: SlotText, values: readonly string[], escapeHtml: boolean): TextSegments {
  return { shared: text.parts, own: text.slots.map((slot) => (escapeHtml ? Handlebars.escapeExpression(values[slot]!) : values[slot]!)) };
}

/** The text the segments stand for. */
export function joined({ shared, own }: TextSegments): string {
  let out = shared[0]!;
  for (let i = 0; i < own.length; i++) out += own[i]! + shared[i + 1]!;
  return out;
}

/** One recipient's email as the templates made it, before the text is tidied. */
export interface RenderedParts {
  readonly subject: string;
  readonly html: string;
  /** The same HTML in segments, for the message to encode the group's shared text once. */
  readonly htmlSegments: TextSegments;
  readonly text: string;
}

/**
 * Renders the recipients of one request, each through the shape of its group:
 * `group` names what the group's context depends on (language and zone).
 *
 * @example
 * const renderOne = groupedRenderer(templates.emails.invitation);
 * renderOne(`${locale}|${zone}`, zoneLayer.context, recipientData(…), { translate })
 */
export function groupedRenderer(email: CompiledEmail) {
  const shapes = new Map<string, { subject: SlotText; html: SlotText; text: SlotText }>();
  return (group: string, groupContext: Record<string, unknown>, data: RecipientData, templateData: TemplateData): RenderedParts => {
    const slots = slotted(data);
    const shapeKey = `${group}|${slots.shape}`;
    let shaped = shapes.get(shapeKey);
    if (!shaped) {
      const context: Record<string, unknown> = { ...groupContext, ...slots.context };
      const options = { data: templateData };
      const subject = oneLine(email.subject(context, options));
      context.subject = subject; // the HTML's <title>
      shaped = { subject: slotText(subject), html: slotText(email.html(context, options)), text: slotText(email.text(context, options)) };
      shapes.set(shapeKey, shaped);
    }
    const htmlSegments = segments(shaped.html, slots.values, true);
    return {
      subject: oneLine(fill(shaped.subject, slots.values, false)),
      // A rope of the segments' strings: flattened only if something reads it (the message encodes the segments).
      html: joined(htmlSegments),
      htmlSegments,
      text: fill(shaped.text, slots.values, false),
    };
  };
}
