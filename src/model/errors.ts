/**
 * What is wrong with a request, field by field.
 */
import type { z } from 'zod';

/** One problem, at a field path as the caller wrote it: `event.conference.joinUrl`, `attendees[2].email`. */
export interface RequestIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A request that breaks the contract. `code` is stable; `issues` name every
 * field that is wrong.
 *
 * @example
 * try { parseNotificationRequest(body) } catch (error) {
 *   if (error instanceof InvalidRequestError) console.log(error.issues[0]?.path)
 * }
 */
export class InvalidRequestError extends Error {
  readonly code = 'INVALID_REQUEST';
  readonly issues: readonly RequestIssue[];

  constructor(issues: readonly RequestIssue[]) {
    const first = issues[0];
    super(
      first
        ? `The request breaks the contract: ${first.path || 'request'} ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`
        : 'The request breaks the contract',
    );
    this.name = 'InvalidRequestError';
    this.issues = issues;
  }
}

/**
 * Writes a path the way it reads in the JSON: `attendees[2].email`.
 *
 * @example formatPath(['attendees', 2, 'email']) // 'attendees[2].email'
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** One issue per zod problem; an unknown key is named at its own path. */
export function issuesFromZod(error: z.ZodError): RequestIssue[] {
  const issues: RequestIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ path: formatPath([...issue.path, key]), message: 'is not a field of the contract' });
    } else {
      issues.push({ path: formatPath(issue.path), message: humanMessage(issue) });
    }
  }
  return issues;
}

function humanMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    return issue.input === undefined ? `is required (${issue.expected})` : `must be ${article(issue.expected)}`;
  }
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (issue.code === 'too_small' && issue.origin === 'array') return `must have at least ${issue.minimum} item(s)`;
  if (issue.code === 'too_big' && issue.origin === 'array') return `must have at most ${issue.maximum} items`;
  if (issue.code === 'too_small' && issue.origin === 'string' && issue.minimum === 1) return 'must not be empty';
  if (issue.code === 'too_big' && issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
  if (issue.code === 'too_small' || issue.code === 'too_big') return issue.message.replace(/^Too (small|big): expected \w+ to (have|be) /, 'must be ');
  return issue.message.replace(/^Invalid input: /, '');
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
