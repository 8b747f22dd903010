import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkI18n, type I18nProblem } from '../../src/i18n-check/check.ts';
import { parseNotificationRequest } from '../../src/model/parse.ts';
import { createRenderer } from '../../src/render/renderer.ts';
import { example } from '../helpers/examples.ts';
import { PROJECT_LOCALES, PROJECT_TEMPLATES, scratchCopy } from '../helpers/scratch-copy.ts';

let scratch: Awaited<ReturnType<typeof scratchCopy>> | undefined;
afterEach(async () => {
  await scratch?.remove();
  scratch = undefined;
});

async function check() {
  return checkI18n({ localesDir: scratch!.localesDir, templatesDir: scratch!.templatesDir });
}

const summary = (problems: I18nProblem[]) => problems.map((p) => `${p.file.replace(/\/$/, '').split('/').slice(-2).join('/')}|${p.where}|${p.message}`);

describe('check:i18n', () => {
  it('passes on the project as it is', async () => {
    expect(await checkI18n({ localesDir: PROJECT_LOCALES, templatesDir: PROJECT_TEMPLATES })).toEqual([]);
  });

  it('names a key a template uses that a language lacks, and the template', async () => {
    scratch = await scratchCopy();
    await scratch.editLocale('ru', (t) => delete t.conference.join);
    const problems = await check();
    expect(problems).toHaveLength(1);
    expect(problems[0]!.file).toBe(`${join(scratch.localesDir, 'ru')}/`);
    expect(problems[0]!.where).toBe('conference.join');
    expect(problems[0]!.message).toMatch(
      /^missing: the emails use it \(.*templates\/partials\/conference\.hbs line 4, .*templates\/invitation\/html\.mjml line \d+.*\)$/,
    );
  });

  it('names a plural form a language needs (Russian: one, few, many, other)', async () => {
    scratch = await scratchCopy();
    await scratch.editLocale('ru', (t) => delete t.people.more_few);
    expect(summary(await check())).toEqual([
      expect.stringMatching(
        /^locales\/ru\|people\.more_few\|missing plural form: ru needs one, few, many, other \(counted in .*templates\/partials\/event\.hbs line 21, .*\)$/,
      ),
    ]);
  });

  it('names placeholders that differ between languages', async () => {
    scratch = await scratchCopy();
    await scratch.editLocale('ru', (t) => (t.subject.invitation = 'Приглашение: {{titel}}'));
    expect(summary(await check())).toEqual([
      expect.stringMatching(
        /^locales\/ru\|subject\.invitation\|uses \{\{titel\}\}, which .*templates\/invitation\/subject\.hbs line 1 does not pass \(it passes: title\)$/,
      ),
      'locales/ru|subject.invitation|placeholders differ from en: lacks {{title}}; has {{titel}} that en does not',
    ]);
  });

  it('names an unused key', async () => {
    scratch = await scratchCopy();
    await scratch.editLocale('en', (t) => (t.actions.snooze = 'Snooze'));
    expect(summary(await check())).toEqual(['locales/en|actions.snooze|unused: no template or code reads it (remove it, or use it)']);
  });

  it('names a key read with {{t "key"}} that a language lacks, and the template that reads it', async () => {
    scratch = await scratchCopy();
    await scratch.editLocale('ru', (t) => delete t.failureNotice.advice);
    const problems = await check();
    expect(summary(problems)).toEqual([
      expect.stringMatching(
        /^locales\/ru\|failureNotice\.advice\|missing: the emails use it \(.*templates\/delivery-failure\/html\.mjml.*templates\/delivery-failure\/text\.hbs.*\)$/,
      ),
    ]);
  });

  it('names a placeholder a string uses that its {{t}} call does not pass, with the file and line of the call', async () => {
    scratch = await scratchCopy();
    await scratch.editLocale('en', (t) => (t.failureNotice.advice = 'Check the address of {{attendee}}.'));
    await scratch.editLocale('ru', (t) => (t.failureNotice.advice = 'Проверьте адрес {{attendee}}.'));
    const problems = summary(await check());
    expect(problems).toHaveLength(4); // each language, in the HTML and the text template
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^locales\/ru\|failureNotice\.advice\|uses \{\{attendee\}\}, which .*templates\/delivery-failure\/text\.hbs line 1[0-9] does not pass \(it passes: nothing\)$/,
      ),
    );
  });

  it('names a missing plural form of a string read with {{t "key" count=…}}', async () => {
    scratch = await scratchCopy();
    await scratch.editLocale('ru', (t) => delete t.failureNotice.heading_many);
    expect(summary(await check())).toEqual([
      expect.stringMatching(
        /^locales\/ru\|failureNotice\.heading_many\|missing plural form: ru needs one, few, many, other \(counted in .*templates\/delivery-failure\/html\.mjml line \d+, .*templates\/delivery-failure\/text\.hbs line 1\)$/,
      ),
    ]);
  });

  it('names a call of a counted string without count=, and count= on a string without plural forms, with file and line', async () => {
    scratch = await scratchCopy();
    await scratch.editFile('templates/partials/event.hbs', (text) =>
      text
        .replace('{{t "people.more" count=participants.hiddenCount}}', '{{t "people.more"}}')
        .replace('{{t "fields.when"}}', '{{t "fields.when" count=participants.total}}'),
    );
    expect(summary(await check()).sort()).toEqual([
      expect.stringMatching(/^locales\/en\|people\.more\|uses \{\{count\}\}, which .*event\.hbs line 21 does not pass \(it passes: nothing\)$/),
      expect.stringMatching(/^locales\/ru\|people\.more\|uses \{\{count\}\}, which .*event\.hbs line 21 does not pass \(it passes: nothing\)$/),
      'partials/event.hbs|line 21|{{t "people.more"}} has plural forms: pass count=',
      'partials/event.hbs|line 4|{{t "fields.when" count=…}}: the string has no plural forms (fields.when_one, fields.when_other, …)',
    ]);
  });

  it('names a locale file that is not valid JSON', async () => {
    scratch = await scratchCopy();
    await scratch.editFile('locales/ru/email.json', (text) => text.replace('"Приглашение: {{title}}",', '"Приглашение: {{title}}"'));
    const [problem] = await check();
    expect(problem!.file).toBe(join(scratch.localesDir, 'ru', 'email.json'));
    expect(problem!.message).toMatch(/^invalid JSON: /);
  });

  it('names an MJML template that does not validate, with its line', async () => {
    scratch = await scratchCopy();
    await scratch.editFile('templates/invitation/html.mjml', (text) =>
      text.replace('<mj-include path="../partials/header.mjml" />', '<mj-include path="../partials/header.mjml" />\n    <mj-buton>x</mj-buton>'),
    );
    const [problem] = await check();
    expect(problem!.file).toBe(join(scratch.templatesDir, 'invitation', 'html.mjml'));
    expect(problem!.message).toMatch(/MJML: .*mj-buton/);
    expect(problem!.where).toMatch(/^line \d+$/);
  });

  it('names a Handlebars helper that does not exist', async () => {
    scratch = await scratchCopy();
    await scratch.editFile('templates/invitation/subject.hbs', () => '{{uppercase t.subject.invitation}}');
    const [problem] = await check();
    expect(problem!.file).toBe(join(scratch.templatesDir, 'invitation', 'subject.hbs'));
    expect(problem!.message).toMatch(/uppercase/);
  });
});

describe('adding a language is adding a folder', () => {
  it('a German folder makes German emails, and passes the check', async () => {
    scratch = await scratchCopy();
    await mkdir(join(scratch.localesDir, 'de'));
    await cp(join(scratch.localesDir, 'en', 'email.json'), join(scratch.localesDir, 'de', 'email.json'));
    await scratch.editLocale('de', (t) => {
      t.subject.invitation = 'Einladung: {{title}}';
      t.conference.join = 'Konferenz beitreten';
      t.time.longDateTime = '{{weekday}}, {{day}}. {{month}} {{year}} um {{time}}';
    });
    expect(await check()).toEqual([]);
    const renderer = await createRenderer({ localesDir: scratch.localesDir, templatesDir: scratch.templatesDir });
    const payload = example('skype-invitation');
    payload.recipients[0].locale = 'de';
    const [email] = renderer.render(parseNotificationRequest(payload));
    expect(email!.locale).toBe('de');
    expect(email!.subject).toBe('Einladung: Собрание акционеров');
    expect(email!.html).toContain('Konferenz beitreten');
    expect(email!.html).toContain('<html lang="de" dir="ltr"');
    expect(email!.text).toContain('Mo., 28. August 2023 um 10:00');
  });

  it('a right-to-left language renders right to left, mirrored', async () => {
    scratch = await scratchCopy();
    await mkdir(join(scratch.localesDir, 'ar'));
    await cp(join(scratch.localesDir, 'en', 'email.json'), join(scratch.localesDir, 'ar', 'email.json'));
    await scratch.editLocale('ar', (t) => (t.conference.join = 'انضم إلى المؤتمر'));
    const renderer = await createRenderer({ localesDir: scratch.localesDir, templatesDir: scratch.templatesDir });
    const payload = example('skype-invitation');
    payload.recipients[0].locale = 'ar';
    const [email] = renderer.render(parseNotificationRequest(payload));
    expect(email!.html).toContain('<html lang="ar" dir="rtl"');
    expect(email!.html).toContain('انضم إلى المؤتمر');
    // every text block aligns right; only MJML's font-size:0 layout wrappers keep their fixed left
    expect(email!.html).toMatch(/text-align:right/);
    expect(email!.html).not.toMatch(/font-size:(?!0px)[^;"]*;[^"]*text-align:left/);
    expect(email!.html).toMatch(/direction:rtl/);
    expect(email!.html).not.toMatch(/direction:ltr/);
    const english = renderer.render(parseNotificationRequest(example('skype-invitation')))[0]!;
    expect(english.html).toMatch(/font-size:15px;[^"]*text-align:left/);
  });
});
