/**
 * What the operator's brand changes in every email. Neutral by default.
 */
import { z } from 'zod';

export const brandingSchema = z.strictObject({
  /** Named in the header and footer. Unset: "Calendar" in the reader's language (locales: brand.defaultName). */
  productName: z.string().trim().min(1).max(100).optional(),
  /** Buttons and accents; a CSS hex colour. */
  accentColor: z
    .string()
    .regex(/^#(?:[0-9a-fA-F]{3}){1,2}$/, 'must be a hex colour such as #1a73e8')
    .default('#1a73e8'),
  /** Shown at the top when set; an https: image URL. */
  logoUrl: z.url({ protocol: /^https$/, message: 'must be an https: URL' }).optional(),
  /** Replaces the translated "sent by" line of the footer when set. */
  footer: z.string().trim().min(1).max(500).optional(),
});

export type Branding = z.output<typeof brandingSchema>;

/** The neutral brand: "Calendar" in the reader's language, a blue accent, no logo. */
export const DEFAULT_BRANDING: Branding = Object.freeze(brandingSchema.parse({}));
