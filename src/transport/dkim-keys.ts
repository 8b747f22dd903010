/**
 * DKIM keys per From domain (RFC 6376). DMARC passes only when the DKIM
 * signature's domain aligns with the From domain (RFC 7489 §3.1.1): with
 * `From:` the organizer at one of several customer domains, each domain needs
 * its own key. A message whose From domain has no key is signed with the
 * service domain's key (it still authenticates the service; DMARC then rests
 * on the other policy, see the README), and that is logged once per domain.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DkimKey {
  readonly domainName: string;
  readonly keySelector: string;
  readonly privateKey: string;
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
    keys.push({ domainName: match[1]!.toLowerCase(), keySelector: match[2]!, privateKey });
  }
  if (keys.length === 0) throw new Error(`no <domain>.<selector>.pem key in ${dir}`);
  return keys;
}

/**
 * @param serviceDomain the domain whose key signs mail from domains without one (the service mailbox's)
 * @example createDkimKeyring(keys, 'mydomain.ru').keyFor('partner.ru') // { key: <partner.ru's>, fallback: false }
 */
export function createDkimKeyring(keys: readonly DkimKey[], serviceDomain: string): DkimKeyring {
  const byDomain = new Map<string, DkimKey>();
  for (const key of keys) if (!byDomain.has(key.domainName)) byDomain.set(key.domainName, key);
  const service = byDomain.get(serviceDomain.toLowerCase()) ?? keys[0] ?? null;
  return {
    domains: [...byDomain.keys()],
    keyFor(fromDomain) {
      const own = byDomain.get(fromDomain.toLowerCase());
      if (own) return { key: own, fallback: false };
      return service ? { key: service, fallback: true } : null;
    },
  };
}
