/**
 * Why a template could not be compiled.
 */

/** A template that cannot be compiled: which file, which line, what is wrong. */
export class TemplateError extends Error {
  readonly code = 'TEMPLATE_INVALID';
  readonly file: string;
  readonly line: number | undefined;
  readonly detail: string;

  constructor(file: string, line: number | undefined, detail: string) {
    super(`${file}${line ? `:${line}` : ''}: ${detail}`);
    this.name = 'TemplateError';
    this.file = file;
    this.line = line;
    this.detail = detail;
  }
}
