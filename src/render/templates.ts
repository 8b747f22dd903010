/**
 * The email templates of `templates/`: one folder per notification type
 * (`html.mjml`, `subject.hbs`, `text.hbs`), shared MJML partials included with
 * `<mj-include>` and shared text partials (`partials/*.hbs`).
 *
 * MJML is compiled once when templates load (mjml.ts; importing mjml costs
 * ~400 ms, a compile ~6 ms); per recipient only compiled Handlebars runs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import Handlebars from 'handlebars';
import { NOTIFICATION_TYPES, type NotificationType } from '../model/schema.ts';
import { compileMjmlFiles } from './mjml.ts';
import { TemplateError } from './template-error.ts';

export { TemplateError } from './template-error.ts';

export type TemplateFunction = (context: object) => string;

export interface CompiledEmail {
  readonly html: TemplateFunction;
  readonly text: TemplateFunction;
  readonly subject: TemplateFunction;
}

export interface TemplateSet {
  readonly emails: Readonly<Record<NotificationType, CompiledEmail>>;
  /** Label paths the templates read below `t.` (`conference.join`, `statuses`), leaves or subtrees. */
  readonly labelPaths: ReadonlySet<string>;
  /** Every template file with what Handlebars compiled of it, for check:i18n's messages. */
  readonly sources: readonly TemplateSource[];
}

export interface TemplateSource {
  readonly file: string;
  readonly kind: 'html' | 'text' | 'subject' | 'partial';
  /** What Handlebars compiles: for MJML, the HTML MJML made of it. */
  readonly handlebars: string;
}

/** Helpers a template may call besides Handlebars' own (if, unless, each, with, lookup). */
export const TEMPLATE_HELPERS = ['nl2br'] as const;

/** Options for `loadTemplates`. */
export interface LoadTemplatesOptions {
  /**
   * Where MJML runs: `in-process` (imports mjml here, ~400 ms and ~100 MB that
   * stay), or `child-process` (a short-lived process compiles and exits: what
   * a long-running service wants). Default `in-process`.
   */
  readonly compileIn?: 'in-process' | 'child-process';
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
  const types = NOTIFICATION_TYPES.map((type) => ({ type, path: join(root, type, 'html.mjml') }));
  for (const { path } of types) {
    let source: string;
    try {
      source = await readFile(path, 'utf8');
    } catch (error) {
      throw new TemplateError(path, undefined, (error as Error).message);
    }
    parseOrThrow(path, source);
  }
  const compiledHtml = await compileMjmlFiles(types.map((t) => t.path), root, options.compileIn ?? 'in-process');
  const html = Handlebars.create();
  const text = Handlebars.create();
  registerHelpers(html, text);

  const sources: TemplateSource[] = [];
  const textPartials = new Map<string, string>();
  const partialsDir = join(root, 'partials');
  for (const file of (await readdir(partialsDir)).filter((f) => f.endsWith('.hbs')).sort()) {
    const path = join(partialsDir, file);
    const source = await readFile(path, 'utf8');
    parseOrThrow(path, source);
    text.registerPartial(basename(file, '.hbs'), source);
    textPartials.set(basename(file, '.hbs'), source);
    sources.push({ file: path, kind: 'partial', handlebars: source });
  }

  const emails = {} as Record<NotificationType, CompiledEmail>;
  for (const type of NOTIFICATION_TYPES) {
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
    emails[type] = Object.freeze({
      html: compile(html, htmlPath, htmlSource, false),
      text: compile(text, textPath, inlinePartials(textSource, textPartials), true),
      subject: compile(text, subjectPath, subjectSource, true),
    });
  }

  const labelPaths = new Set<string>();
  for (const source of sources) collectLabelPaths(Handlebars.parse(source.handlebars), labelPaths);
  return Object.freeze({ emails: Object.freeze(emails), labelPaths, sources: Object.freeze(sources) });
}

function parseOrThrow(path: string, source: string): void {
  try {
    Handlebars.parse(source);
  } catch (error) {
    const message = (error as Error).message;
    const line = /line (\d+)/.exec(message)?.[1];
    throw new TemplateError(path, line ? Number(line) : undefined, `Handlebars: ${message.split('\n')[0]}`);
  }
}

function compile(env: typeof Handlebars, path: string, source: string, plain: boolean): TemplateFunction {
  const knownHelpers = Object.fromEntries(TEMPLATE_HELPERS.map((name) => [name, true]));
  let template: HandlebarsTemplateDelegate;
  try {
    // knownHelpersOnly: an unknown helper is a compile error here, not an empty string in a customer's mail.
    template = env.compile(source, { knownHelpers, knownHelpersOnly: true, noEscape: plain, strict: false });
    template({}); // compile now, so a broken template fails at start, not at the first message
  } catch (error) {
    const message = (error as Error).message;
    const line = /line (\d+)/.exec(message)?.[1];
    throw new TemplateError(path, line ? Number(line) : undefined, `Handlebars: ${message.split('\n')[0]}`);
  }
  return template;
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
  html.registerHelper('nl2br', (value: unknown) =>
    new html.SafeString(html.escapeExpression(String(value ?? '')).replace(/\r?\n/g, '<br>')),
  );
  text.registerHelper('nl2br', (value: unknown) => String(value ?? ''));
}

/** Collects `t.<path>` references of a template AST. */
function collectLabelPaths(program: hbs.AST.Program, into: Set<string>): void {
  const visitor = new Handlebars.Visitor();
  visitor.PathExpression = function (path: hbs.AST.PathExpression) {
    const parts = path.data && path.parts[0] === 'root' ? path.parts.slice(1) : path.parts;
    if (parts[0] === 't' && parts.length > 1) into.add(parts.slice(1).join('.'));
  };
  visitor.accept(program);
}
