import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { composeMessage } from '../../src/message/compose.ts';
import { dkimSigningPlan, keyFilesReadableByOthers } from '../../src/message/dkim-keys.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer } from '../../src/render/renderer.ts';
import { createSmtpTransport } from '../../src/transport/smtp.ts';
import { example } from '../helpers/examples.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const sink = new SmtpSink();
let dir: string;
beforeAll(async () => {
  await sink.start();
  dir = mkdtempSync(join(tmpdir(), 'dkim-'));
});
afterAll(async () => {
  await sink.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function message(name = 'skype-invitation') {
  const request = parseNotificationRequest(example(name));
  const [email] = (await createRenderer()).render(request, { stamp: DateTime.utc() });
  return composeMessage(request, email!, {
    senderPolicy: 'organizer',
    serviceMailbox: { address: 'calendar@mydomain.ru' },
    bounceAddress: 'calendar@mydomain.ru',
    date: new Date(),
  });
}

/** The header of the last message the sink took, folded lines unfolded (RFC 5322 §2.2.3). */
function lastHeaders(): string {
  return sink.received
    .at(-1)!
    .raw.toString()
    .split('\r\n\r\n')[0]!
    .replace(/\r\n\s+/g, ' ');
}

describe('SMTP options from the configuration', () => {
  it('signs every message with DKIM when DKIM_* are set', async () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const keyFile = join(dir, 'dkim.pem');
    writeFileSync(keyFile, privateKey);
    const config = loadConfig({ SMTP_URL: sink.url, DKIM_DOMAIN: 'mydomain.ru', DKIM_SELECTOR: 'invites', DKIM_PRIVATE_KEY_FILE: keyFile });
    const transport = createSmtpTransport(config.smtp);
    expect(await transport.send(await message())).toMatchObject({ verdict: 'accepted' });
    expect(lastHeaders()).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=mydomain\.ru; q=dns\/txt; s=invites;/m);

    // A change threads with the invitation (In-Reply-To, References): those are signed too, so a
    // forwarder cannot move the message into another conversation without breaking the signature.
    const update = await message('update-time-changed');
    expect(update.raw.toString()).toMatch(/^In-Reply-To: </m);
    expect(await transport.send(update)).toMatchObject({ verdict: 'accepted' });
    transport.close();
    const signedFields = /^DKIM-Signature: .*?\bh=([^;]+);/m.exec(lastHeaders())![1]!.replace(/\s/g, '').toLowerCase().split(':');
    expect(signedFields).toEqual(expect.arrayContaining(['from', 'to', 'subject', 'date', 'message-id', 'in-reply-to', 'references', 'content-type']));

    // A message signed where it was composed (the rendering threads) goes as it is: one signature, not two.
    const composed = await message();
    const again = createSmtpTransport(config.smtp);
    expect(await again.send({ ...composed, signed: true })).toMatchObject({ verdict: 'accepted' });
    again.close();
    expect(sink.received.at(-1)!.raw.equals(composed.raw)).toBe(true);
  });

  it('signs each message with its From domain key (DKIM_KEYS_DIR), and a domain without one with the service domain key, said once', async () => {
    const keys = join(dir, 'keys');
    mkdirSync(keys);
    for (const [domain, selector] of [
      ['mydomain.ru', 'invites'],
      ['partner.ru', 'cal2026'],
    ]) {
      const { privateKey } = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      writeFileSync(join(keys, `${domain}.${selector}.pem`), privateKey);
    }
    writeFileSync(join(keys, 'README.txt'), 'not a key: ignored');
    const config = loadConfig({ SMTP_URL: sink.url, DKIM_KEYS_DIR: keys, SERVICE_MAILBOX: 'calendar@mydomain.ru' });
    const fallbacks: string[] = [];
    const transport = createSmtpTransport({ ...config.smtp, onDkimFallback: (domain, as) => fallbacks.push(`${domain}→${as}`) });
    const signature = () => /^DKIM-Signature: (.*)$/m.exec(lastHeaders())![1]!;
    const from = async (address: string) => ({ ...(await message()), from: address });
    await transport.send(await from('o.kuznetsova@partner.ru'));
    expect(signature()).toMatch(/\bd=partner\.ru; q=dns\/txt; s=cal2026;/);
    await transport.send(await from('e.smirnova@mydomain.ru'));
    expect(signature()).toMatch(/\bd=mydomain\.ru; q=dns\/txt; s=invites;/);
    await transport.send(await from('someone@elsewhere.example'));
    await transport.send(await from('other@elsewhere.example'));
    expect(signature()).toMatch(/\bd=mydomain\.ru;/);
    expect(fallbacks).toEqual(['elsewhere.example→mydomain.ru']);
    transport.close();

    // Without a key for the service domain, mail from a domain without one goes unsigned: partner.ru's key never signs it.
    const noServiceKey = loadConfig({ SMTP_URL: sink.url, DKIM_KEYS_DIR: keys, SERVICE_MAILBOX: 'calendar@nokey-service.example' });
    const unsigned: string[] = [];
    const strict = createSmtpTransport({ ...noServiceKey.smtp, onDkimFallback: (domain, as) => unsigned.push(`${domain}→${as}`) });
    await strict.send(await from('someone@nokey.example'));
    expect(lastHeaders()).not.toMatch(/^DKIM-Signature:/m);
    await strict.send(await from('o.kuznetsova@partner.ru'));
    expect(signature()).toMatch(/\bd=partner\.ru; q=dns\/txt; s=cal2026;/);
    expect(unsigned).toEqual(['nokey.example→null']);
    strict.close();
    expect(dkimSigningPlan(noServiceKey.smtp.dkimKeys!, noServiceKey.smtp.serviceDomain)).toEqual({
      'mydomain.ru': 'd=mydomain.ru; s=invites',
      'partner.ru': 'd=partner.ru; s=cal2026',
      '*': 'unsigned (no key for the service domain nokey-service.example)',
    });
    for (const key of noServiceKey.smtp.dkimKeys!) chmodSync(key.file!, 0o644);
    expect(keyFilesReadableByOthers(noServiceKey.smtp.dkimKeys!)).toHaveLength(2);
    for (const key of noServiceKey.smtp.dkimKeys!) chmodSync(key.file!, 0o600);
    expect(keyFilesReadableByOthers(noServiceKey.smtp.dkimKeys!)).toEqual([]);
    expect(() => loadConfig({ DKIM_KEYS_DIR: join(dir, 'nowhere') })).toThrow(/DKIM_KEYS_DIR/);
  });

  it('refuses to send without STARTTLS when SMTP_REQUIRE_TLS is set: a transient failure, nothing sent', async () => {
    const before = sink.received.length;
    const transport = createSmtpTransport(loadConfig({ SMTP_URL: sink.url, SMTP_REQUIRE_TLS: 'true' }).smtp);
    const outcome = await transport.send(await message());
    transport.close();
    expect(outcome.verdict).toBe('transient');
    expect(outcome.reply.message).toMatch(/STARTTLS/i);
    expect(sink.received.length).toBe(before);
  });
});
