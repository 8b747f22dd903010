/**
 * Rendering once per group of recipients who see the same email but for a
 * few strings of their own (address, answer links, agenda lines).
 *
 * The templates run once per *shape* (which of those strings exist, how many
 * agenda lines, which line is this event) with each such string replaced by a
 * slot marker; per recipient the output is the text between the markers with
 * the recipient's strings put in, HTML-escaped exactly as Handlebars does
 * for the HTML part. The request model refuses control characters, so a
 * marker (U+0001 … U+0002) can only come from here.
 */
import Handlebars from 'handlebars';

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
 * Fills the slots with one recipient's strings; `escape` for the HTML part.
 *
 * @example fill(slotText('<a href="\u00010\u0002">'), ['https://x?a=1&b=2'], true) // '<a href="https://x?a&#x3D;1&amp;b&#x3D;2">'
 */
export function fill(text: SlotText, values: readonly string[], escape: boolean): string {
  let out = text.parts[0]!;
  for (let i = 0; i < text.slots.length; i++) {
    const value = values[text.slots[i]!]!;
    out += (escape ? Handlebars.escapeExpression(value) : value) + text.parts[i + 1]!;
  }
  return out;
}
