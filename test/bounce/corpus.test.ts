/**
 * The bounce corpus: messages written after the documented formats of the
 * MTAs and mail services a calendar's invitations meet (Postfix, Exim,
 * Sendmail, qmail, Microsoft Exchange and Office 365, Gmail, Yandex, Mail.ru),
 * DSN (RFC 3464, RFC 6533) and plain text, with and without Auto-Submitted;
 * and the auto-replies and replies that come to a bounce address too. Each
 * must be read as what it is, by the reader the service uses (its thread).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readBounce } from '../../src/bounce/read.ts';
import { createBounceReader } from '../../src/bounce/reader.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES));

type Expected =
  | { kind: 'report'; format: 'dsn' | 'text'; recipient: string | null; action: 'failed' | 'delayed'; status: string; diagnostic?: RegExp }
  | { kind: 'auto-reply' | 'not-a-bounce' };

const CORPUS: Record<string, Expected> = {
  'postfix-failed.eml': {
    kind: 'report',
    format: 'dsn',
    recipient: 'nobody@partner.example',
    action: 'failed',
    status: '5.1.1',
    diagnostic: /^smtp; 550 5\.1\.1/,
  },
  'postfix-delayed.eml': { kind: 'report', format: 'dsn', recipient: 'slow@partner.example', action: 'delayed', status: '4.4.1' },
  'postfix-global-failed.eml': { kind: 'report', format: 'dsn', recipient: 'пользователь@почта.рф', action: 'failed', status: '5.1.1' },
  'exim-failed.eml': {
    kind: 'report',
    format: 'text',
    recipient: 'nobody@partner.example',
    action: 'failed',
    status: '5.1.1',
    diagnostic: /^550 5\.1\.1 <nobody@partner\.example>: Recipient address rejected/,
  },
  'exim-delayed.eml': { kind: 'report', format: 'text', recipient: 'slow@partner.example', action: 'delayed', status: '4.2.0', diagnostic: /^451 4\.2\.0/ },
  'sendmail-failed.eml': { kind: 'report', format: 'dsn', recipient: 'nobody@partner.example', action: 'failed', status: '5.1.1' },
  'sendmail-text-failed.eml': { kind: 'report', format: 'text', recipient: 'nobody@old.partner.example', action: 'failed', status: '5.1.1' },
  'sendmail-delayed.eml': { kind: 'report', format: 'dsn', recipient: 'slow@partner.example', action: 'delayed', status: '4.4.1' },
  'qmail-failed.eml': { kind: 'report', format: 'text', recipient: 'nobody@partner.example', action: 'failed', status: '5.1.1', diagnostic: /no mailbox here/ },
  'exchange-failed.eml': { kind: 'report', format: 'dsn', recipient: 'nobody@partner.example', action: 'failed', status: '5.1.10' },
  'office365-failed.eml': { kind: 'report', format: 'dsn', recipient: 'nobody@partner.example', action: 'failed', status: '5.1.10' },
  'gmail-failed.eml': { kind: 'report', format: 'dsn', recipient: 'nobody@gmail.com', action: 'failed', status: '5.1.1' },
  'gmail-delayed.eml': { kind: 'report', format: 'dsn', recipient: 'slow@partner.example', action: 'delayed', status: '4.4.1' },
  'yandex-failed.eml': { kind: 'report', format: 'dsn', recipient: 'nobody@yandex.ru', action: 'failed', status: '5.1.1' },
  'mailru-failed.eml': {
    kind: 'report',
    format: 'text',
    recipient: 'nobody@mail.ru',
    action: 'failed',
    status: '5.1.1',
    diagnostic: /^550 5\.1\.1 Message rejected/,
  },
  'out-of-office.eml': { kind: 'auto-reply' },
  'out-of-office-ru.eml': { kind: 'auto-reply' },
  'vacation.eml': { kind: 'auto-reply' },
  'human-reply.eml': { kind: 'not-a-bounce' },
};

describe('the bounce corpus', () => {
  it('has an expectation for every fixture', () => {
    expect(readdirSync(FIXTURES).sort()).toEqual(Object.keys(CORPUS).sort());
  });

  it.each(Object.entries(CORPUS))('%s', async (name, expected) => {
    const bounce = await readBounce(fixture(name));
    expect(bounce.kind).toBe(expected.kind);
    if (expected.kind !== 'report' || bounce.kind !== 'report') return;
    expect(bounce.format).toBe(expected.format);
    expect(bounce.addressedTo).toContain('bounces+TOKEN@mail.mydomain.ru');
    const [first] = bounce.recipients;
    expect(first).toMatchObject({ recipient: expected.recipient, action: expected.action, status: expected.status });
    if (expected.diagnostic) expect(first!.diagnostic).toMatch(expected.diagnostic);
  });

  it('reads the same in the reader’s thread as in place', async () => {
    const reader = createBounceReader();
    try {
      for (const name of Object.keys(CORPUS)) expect(await reader.read(fixture(name))).toEqual(await readBounce(fixture(name)));
    } finally {
      await reader.close();
    }
  });
});
