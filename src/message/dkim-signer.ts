/**
 * DKIM signatures (RFC 6376) with nodemailer's signer, by the From domain's
 * key (dkim-keys.ts). An RSA-2048 signature costs about a millisecond and a
 * half of CPU a message (1600 messages: 2.2 s of the main thread), so the
 * worker signs on the rendering threads with the message it composed; the
 * transport signs what reaches it unsigned (notices to organizers, the CLI).
 */
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import DKIM from 'nodemailer/lib/dkim';
import { createDkimKeyring, type DkimKey } from './dkim-keys.ts';

/** A From domain that had no key of its own: signed with the service domain's (`signedAs`), or not at all (null). */
export interface DkimFallback {
  readonly fromDomain: string;
  readonly signedAs: string | null;
}

export interface DkimSigner {
  /**
   * The message with its DKIM-Signature header first, or as it is when no key may sign its From
   * domain. `fallback`: the first time a From domain was signed by another's key or not at all.
   */
  sign(fromAddress: string, raw: Buffer): Promise<{ readonly raw: Buffer; readonly fallback: DkimFallback | null }>;
}

/**
 * @param serviceDomain the service mailbox's domain: whose key signs mail from a domain without one
 * @example
 * const signer = createDkimSigner(config.smtp.dkimKeys ?? [], config.smtp.serviceDomain);
 * const { raw } = await signer.sign(message.from, message.raw);
 */
export function createDkimSigner(keys: readonly DkimKey[], serviceDomain: string): DkimSigner {
  const keyring = createDkimKeyring(keys, serviceDomain);
  const signers = new Map<DkimKey, DKIM>();
  const fellBack = new Set<string>();
  return {
    async sign(fromAddress, raw) {
      const fromDomain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1).toLowerCase();
      const choice = keyring.keyFor(fromDomain);
      let fallback: DkimFallback | null = null;
      if ((!choice || choice.fallback) && !fellBack.has(fromDomain)) {
        fellBack.add(fromDomain);
        fallback = { fromDomain, signedAs: choice ? choice.key.domainName : null };
      }
      if (!choice) return { raw, fallback };
      let signer = signers.get(choice.key);
      if (!signer) {
        signer = new DKIM({ ...choice.key });
        signers.set(choice.key, signer);
      }
      return { raw: await buffer(signer.sign(Readable.from([raw]))), fallback };
    },
  };
}
