/**
 * The email templates of `templates/`: one folder per notification type
 * (`html.mjml`, `subject.hbs`, `text.hbs`), shared MJML partials included with
 * `<mj-include>` and shared text partials (`partials/*.hbs`).
 *
 * MJML is compiled once when templates load (mjml.ts; importing mjml costs
 * ~400 ms, a compile ~6 ms), then Handlebars precompiles what MJML made and
 * the text templates; with a cache folder, both are kept until a template
 * changes (template-cache.ts). Per recipient only compiled Handlebars runs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import Handlebars from 'handlebars';
import { NOTIFICATION_TYPES, type NotificationType } from '../model/schema.ts';
import type { Translate } from './catalog.ts';
import { compileMjmlFiles, MJML_COMPILE_OPTIONS } from './mjml.ts';
import { readTemplateCache, type StoredTemplates, templateCacheFile, writeTemplateCache } from './template-cache.ts';
import { TemplateError } from './template-error.ts';

export { TemplateError } from './template-error.ts';

/** Emails the service writes on its own behalf (not a notification of the contract): one folder each. */
export const SERVICE_EMAILS = ['delivery-failure'] as const;
export type ServiceEmail = (typeof SERVICE_EMAILS)[number];
/** Every email with a folder in `templates/`. */
export type EmailKind = NotificationType | ServiceEmail;

/** What a template run gets besides its context: `translate` for the `t` helper, in the email's language. */
export interface TemplateData {
  readonly translate?: Translate;
}

export type TemplateFunction = (context: object, options?: { readonly data?: TemplateData }) => string;

export interface CompiledEmail {
  readonly html: TemplateFunction;
  readonly text: TemplateFunction;
  readonly subject: TemplateFunction;
}

export interface TemplateSet {
  readonly emails: Readonly<Record<EmailKind, CompiledEmail>>;
  /** Every key the templates read (a call choosing among keys names their subtree: `statuses`), for check:i18n. */
  readonly keyPaths: ReadonlySet<string>;
  /** Each `{{t "key" name=…}}` call: where it is and the values it passes (what the string may use). */
  readonly translations: readonly TranslationCall[];
  /** Every template file with what Handlebars compiled of it, for check:i18n's messages. */
  readonly sources: readonly TemplateSource[];
}

export interface TranslationCall {
  readonly file: string;
  /** The line in what Handlebars compiles (for MJML, the HTML made of it). */
  readonly line: number;
  /** The key; for `{{t "statuses" status}}`, the subtree the value picks a key of. */
  readonly key: string;
  /** Whether a value picks the key below `key` (`{{t "statuses" status}}` reads `statuses.accepted`). */
  readonly subtree: boolean;
  /** The names passed: `count` among them for a plural. */
  readonly passes: readonly string[];
}

export interface TemplateSource {
  readonly file: string;
  readonly kind: 'html' | 'text' | 'subject' | 'partial';
  /** What Handlebars compiles: for MJML, the HTML MJML made of it. */
  readonly handlebars: string;
}

/**
 * Helpers a template may call besides Handlebars' own (if, unless, each, with, lookup):
 * `nl2br`, and `t`, a string of the email's language:
 *   `{{t "fields.when"}}`; with the values the string may use,
 *   `{{t "intro.invitation" organizer=organizer.name}}`; a plural with `count=`,
 *   `{{t "people.more" count=participants.hiddenCount}}`; a key picked by a value,
 *   `{{t "statuses" status}}` (reads `statuses.accepted`).
 */
export const TEMPLATE_HELPERS = ['nl2br', 't'] as const;

/** Options for `loadTemplates`. */
export interface LoadTemplatesOptions {
  /**
   * Where MJML runs: `in-process` (imports mjml here, ~400 ms and ~100 MB that
   * stay), or `child-process` (a short-lived process compiles and exits: what
   * a long-running service wants). Default `in-process`.
   */
  readonly compileIn?: 'in-process' | 'child-process';
  /**
   * A folder to keep the compiled templates in, keyed by their hash
   * (template-cache.ts): unchanged templates then start without compiling
   * anything. Default none: compile every time.
   */
  readonly cacheDir?: string;
}

/**
 * Compiles every template below `templatesDir`.
 *
 * @throws TemplateError naming the file and line of the first broken template.
 * @example
 * const templates = await loadTemplates('templates');
 * templates.emails.invitation.subject(context)
 */
export async function loadTemplates(templatesDir: string, options: LoadTemplatesOptions = {}): Promise<TemplateSet> {
  const root = resolve(templatesDir);
  const cacheFile = options.cacheDir ? await templateCacheFile(options.cacheDir, root, { mjml: MJML_COMPILE_OPTIONS, handlebars: HANDLEBARS_OPTIONS }) : null;
  const cached = cacheFile ? await readTemplateCache(cacheFile) : null;
  if (cached) {
    try {
      return templateSetOf(cached, root);
    } catch {
      // an entry whose functions do not load (damaged on disk): compiled over below
    }
  }
  const { stored, templates } = await compileTemplates(root, options.compileIn ?? 'in-process');
  if (cacheFile) await writeTemplateCache(cacheFile, stored);
  return templates;
}

const KINDS: readonly EmailKind[] = [...NOTIFICATION_TYPES, ...SERVICE_EMAILS];

/** Handlebars' compile options: an unknown helper is a compile error here, not an empty string in a customer's mail. */
const HANDLEBARS_OPTIONS = { knownHelpers: Object.fromEntries(TEMPLATE_HELPERS.map((name) => [name, true])), knownHelpersOnly: true, strict: false };

/**
 * MJML to HTML, then every template precompiled by Handlebars and its `{{t}}`
 * calls collected: what to store (paths relative to `root`), and the set made of it.
 */
async function compileTemplates(root: string, compileIn: 'in-process' | 'child-process'): Promise<{ stored: StoredTemplates; templates: TemplateSet }> {
  const types = KINDS.map((type) => ({ type, path: join(root, type, 'html.mjml') }));
  for (const { path } of types) {
    let source: string;
    try {
      source = await readFile(path, 'utf8');
    } catch (error) {
      throw new TemplateError(path, undefined, (error as Error).message);
    }
    parseOrThrow(path, source);
  }
  const compiledHtml = await compileMjmlFiles(
    types.map((t) => t.path),
    root,
    compileIn,
  );

  const sources: TemplateSource[] = [];
  const specs: Record<string, string> = {};
  const textPartials = new Map<string, string>();
  const partialsDir = join(root, 'partials');
  for (const file of (await readdir(partialsDir)).filter((f) => f.endsWith('.hbs')).sort()) {
    const path = join(partialsDir, file);
    const source = await readFile(path, 'utf8');
    parseOrThrow(path, source);
    textPartials.set(basename(file, '.hbs'), source);
    sources.push({ file: path, kind: 'partial', handlebars: source });
  }
  for (const type of KINDS) {
    const dir = join(root, type);
    const htmlPath = join(dir, 'html.mjml');
    const htmlSource = compiledHtml.get(htmlPath)!;
    const textPath = join(dir, 'text.hbs');
    const subjectPath = join(dir, 'subject.hbs');
    const textSource = await readFile(textPath, 'utf8');
    parseOrThrow(textPath, textSource);
    const subjectSource = (await readFile(subjectPath, 'utf8')).trim();
    sources.push({ file: htmlPath, kind: 'html', handlebars: htmlSource });
    sources.push({ file: textPath, kind: 'text', handlebars: textSource });
    sources.push({ file: subjectPath, kind: 'subject', handlebars: subjectSource });
    specs[relative(root, htmlPath)] = precompile(htmlPath, htmlSource, false);
    specs[relative(root, textPath)] = precompile(textPath, inlinePartials(textSource, textPartials), true);
    specs[relative(root, subjectPath)] = precompile(subjectPath, subjectSource, true);
  }

  const translations: TranslationCall[] = [];
  for (const source of sources) collectTranslations(Handlebars.parse(source.handlebars), source.file, translations);
  const stored = {
    sources: sources.map((s) => ({ ...s, file: relative(root, s.file) })),
    specs,
    translations: translations.map((c) => ({ ...c, file: relative(root, c.file) })),
  };
  const templates = templateSetOf(stored, root);
  // Run each once, so that a template that compiles but cannot run fails at start, not at the first message.
  const { emails } = templates;
  for (const type of KINDS) {
    for (const part of ['html', 'text', 'subject'] as const) {
      const file = part === 'html' ? join(root, type, 'html.mjml') : join(root, type, `${part}.hbs`);
      try {
        emails[type][part]({}, { data: { translate: (key: string) => key } });
      } catch (error) {
        throw handlebarsError(file, error);
      }
    }
  }
  return { stored, templates };
}

/** The template functions of a compile (fresh or stored), with the helpers and the text partials they call. */
function templateSetOf(stored: StoredTemplates, root: string): TemplateSet {
  const html = Handlebars.create();
  const text = Handlebars.create();
  registerHelpers(html, text);
  for (const source of stored.sources) if (source.kind === 'partial') text.registerPartial(basename(source.file, '.hbs'), source.handlebars);
  const template = (env: typeof Handlebars, file: string): TemplateFunction => {
    // The spec is Handlebars.precompile's JavaScript, from this process or our own cache file.
    const spec = new Function(`return ${stored.specs[file]};`)() as TemplateSpecification;
    return env.template(spec);
  };
  const emails = {} as Record<EmailKind, CompiledEmail>;
  for (const type of KINDS) {
    emails[type] = Object.freeze({
      html: template(html, join(type, 'html.mjml')),
      text: template(text, join(type, 'text.hbs')),
      subject: template(text, join(type, 'subject.hbs')),
    });
  }
  const translations = stored.translations.map((call) => Object.freeze({ ...call, file: join(root, call.file) }));
  const keyPaths = new Set(translations.map((call) => call.key));
  return Object.freeze({
    emails: Object.freeze(emails),
    keyPaths,
    translations: Object.freeze(translations),
    sources: Object.freeze(stored.sources.map((source) => Object.freeze({ ...source, file: join(root, source.file) }))),
  });
}

function parseOrThrow(path: string, source: string): void {
  try {
    Handlebars.parse(source);
  } catch (error) {
    throw handlebarsError(path, error);
  }
}

function precompile(path: string, source: string, plain: boolean): string {
  try {
    return Handlebars.precompile(source, { ...HANDLEBARS_OPTIONS, noEscape: plain }) as string;
  } catch (error) {
    throw handlebarsError(path, error);
  }
}

function handlebarsError(path: string, error: unknown): TemplateError {
  const message = (error as Error).message;
  const line = /line (\d+)/.exec(message)?.[1];
  return new TemplateError(path, line ? Number(line) : undefined, `Handlebars: ${message.split('\n')[0]}`);
}

/**
 * Puts each partial that stands alone on its line in place of its `{{> name}}`
 * (what Handlebars does for a standalone partial at column 0), saving a
 * partial call per part per recipient. Anything else stays a partial call.
 */
function inlinePartials(source: string, partials: ReadonlyMap<string, string>): string {
  return source.replace(/^\{\{>\s*([\w-]+)\s*\}\}\r?\n/gm, (line, name: string) => {
    const partial = partials.get(name);
    return partial === undefined ? line : partial.endsWith('\n') ? partial : `${partial}\n`;
  });
}

function registerHelpers(html: typeof Handlebars, text: typeof Handlebars): void {
  // Plain text with its line breaks, escaped once, for HTML.
  html.registerHelper('nl2br', (value: unknown) => new html.SafeString(html.escapeExpression(String(value ?? '')).replace(/\r?\n/g, '<br>')));
  text.registerHelper('nl2br', (value: unknown) => String(value ?? ''));
  // The string comes back plain: the HTML template escapes it once, like any value.
  const t = (...args: unknown[]) => {
    const options = args.pop() as Handlebars.HelperOptions;
    const key = args.map(String).join('.'); // {{t "statuses" status}} → statuses.accepted
    const translate = (options.data as TemplateData | undefined)?.translate;
    if (!translate) throw new Error(`{{t "${key}"}}: this email is rendered without a language`);
    return translate(key, options.hash as Record<string, unknown>);
  };
  html.registerHelper('t', t);
  text.registerHelper('t', t);
}

/**
 * Collects the `{{t "key" …}}` calls of a template AST: which key (or
 * subtree), where, and which names they pass. A `{{t.key}}` path, the old
 * form, is refused: it would render as nothing.
 */
function collectTranslations(program: hbs.AST.Program, file: string, calls: TranslationCall[]): void {
  const visitor = new Handlebars.Visitor();
  const helperCall = (node: hbs.AST.MustacheStatement | hbs.AST.SubExpression) => {
    if (node.path.type !== 'PathExpression' || (node.path as hbs.AST.PathExpression).original !== 't') return;
    const [first, ...rest] = node.params;
    const line = node.loc.start.line;
    if (first?.type !== 'StringLiteral') throw new TemplateError(file, line, '{{t}} takes the key first, in quotes: {{t "fields.when"}}');
    const passes = (node.hash?.pairs ?? []).map((pair) => pair.key);
    calls.push({ file, line, key: (first as hbs.AST.StringLiteral).value, subtree: rest.length > 0, passes });
  };
  const visitMustache = visitor.MustacheStatement.bind(visitor);
  visitor.MustacheStatement = (node: hbs.AST.MustacheStatement) => {
    helperCall(node);
    visitMustache(node);
  };
  const visitSubExpression = visitor.SubExpression.bind(visitor);
  visitor.SubExpression = (node: hbs.AST.SubExpression) => {
    helperCall(node);
    visitSubExpression(node);
  };
  visitor.PathExpression = (path: hbs.AST.PathExpression) => {
    const parts = path.data && path.parts[0] === 'root' ? path.parts.slice(1) : path.parts;
    if (parts[0] === 't' && parts.length > 1) {
      throw new TemplateError(file, path.loc.start.line, `{{${path.original}}} reads nothing: write {{t "${parts.slice(1).join('.')}"}}`);
    }
  };
  visitor.accept(program);
}
