/**
 * DKIM keys per From domain (RFC 6376). DMARC passes only when the DKIM
 * signature's domain aligns with the From domain (RFC 7489 §3.1.1): with
 * `From:` the organizer at one of several customer domains, each domain needs
 * its own key. A message whose From domain has no key is signed with the
 * service domain's key (it still authenticates the service; DMARC then rests
 * on the other policy, see docs/deliverability.md), and that is logged once per domain;
 * without a service domain key it goes unsigned. A customer's key never signs
 * another domain's mail: that would have one customer vouch for another.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface DkimKey {
  readonly domainName: string;
  readonly keySelector: string;
  readonly privateKey: string;
  /** The file it was read from, when it was (for the start-up check of its permissions). */
  readonly file?: string;
}

export interface DkimKeyring {
  /** The key for a From domain: its own, or the service domain's (`fallback`), or null when there is none. */
  keyFor(fromDomain: string): { readonly key: DkimKey; readonly fallback: boolean } | null;
  readonly domains: readonly string[];
}

/**
 * Reads `<domain>.<selector>.pem` files: `mydomain.ru.invites.pem` signs
 * mail from `@mydomain.ru` as `d=mydomain.ru; s=invites`.
 *
 * @throws Error naming a file that is not a PEM private key, or a folder without keys.
 * @example loadDkimKeyDir('/etc/invite-mailer/dkim') // [{ domainName: 'mydomain.ru', keySelector: 'invites', privateKey: '-----BEGIN…' }]
 */
export function loadDkimKeyDir(dir: string): DkimKey[] {
  const keys: DkimKey[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = /^(.+)\.([A-Za-z0-9_-]+)\.pem$/.exec(file);
    if (!match) continue;
    const privateKey = readFileSync(join(dir, file), 'utf8');
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(privateKey)) throw new Error(`${file} is not a PEM private key`);
    keys.push({ domainName: match[1]!.toLowerCase(), keySelector: match[2]!, privateKey, file: join(dir, file) });
  }
  if (keys.length === 0) throw new Error(`no <domain>.<selector>.pem key in ${dir}`);
  return keys;
}

/**
 * @param serviceDomain the domain whose key signs mail from domains without one (the service mailbox's)
 * @example createDkimKeyring(keys, 'mydomain.ru').keyFor('partner.ru') // { key: <partner.ru's>, fallback: false }
 * @example createDkimKeyring([partnerKey], 'mydomain.ru').keyFor('other.example') // null: unsigned, never partner.ru's key
 */
export function createDkimKeyring(keys: readonly DkimKey[], serviceDomain: string): DkimKeyring {
  const byDomain = new Map<string, DkimKey>();
  for (const key of keys) if (!byDomain.has(key.domainName)) byDomain.set(key.domainName, key);
  const service = byDomain.get(serviceDomain.toLowerCase()) ?? null;
  return {
    domains: [...byDomain.keys()],
    keyFor(fromDomain) {
      const own = byDomain.get(fromDomain.toLowerCase());
      if (own) return { key: own, fallback: false };
      return service ? { key: service, fallback: true } : null;
    },
  };
}

/**
 * Which mail each key signs, for the start-up log: each domain with a key, and what becomes of mail from any other.
 *
 * @example dkimSigningPlan(keys, 'mydomain.ru') // { 'mydomain.ru': 'd=mydomain.ru; s=invites', 'partner.ru': 'd=partner.ru; s=cal2026', '*': 'd=mydomain.ru; s=invites (the service domain key)' }
 */
export function dkimSigningPlan(keys: readonly DkimKey[], serviceDomain: string): Record<string, string> {
  const plan: Record<string, string> = {};
  for (const key of keys) plan[key.domainName] ??= `d=${key.domainName}; s=${key.keySelector}`;
  const service = plan[serviceDomain.toLowerCase()];
  plan['*'] = service ? `${service} (the service domain key)` : `unsigned (no key for the service domain ${serviceDomain.toLowerCase()})`;
  return plan;
}

/**
 * Key files that users other than the service's own can read: each a warning at start.
 *
 * @example keyFilesReadableByOthers(keys) // ['/etc/invite-mailer/dkim/mydomain.ru.invites.pem (mode 644)']
 */
export function keyFilesReadableByOthers(keys: readonly DkimKey[]): string[] {
  return keys.flatMap((key) => {
    if (!key.file) return [];
    const mode = statSync(key.file).mode & 0o777;
    return mode & 0o077 ? [`${key.file} (mode ${mode.toString(8)})`] : [];
  });
}
