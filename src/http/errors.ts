/**
 * Every error the API answers with: a stable code, its HTTP status and what
 * it means. The error table of docs/api.md is this registry; a test keeps them equal.
 */
import type { RequestIssue } from '../model/errors.ts';

export const API_ERRORS = {
  INVALID_JSON: { status: 400, meaning: 'The body is not JSON, or not `application/json`.' },
  BAD_REQUEST: { status: 400, meaning: 'The request line, a header or the path cannot be read (a broken percent-encoding, for example).' },
  UNAUTHORIZED: { status: 401, meaning: 'No `Authorization: Bearer <API_TOKEN>` header, or a wrong token.' },
  NOT_FOUND: { status: 404, meaning: 'No such notification, or no such endpoint.' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, meaning: 'A request with this `Idempotency-Key` is still being stored; retry shortly.' },
  PAYLOAD_TOO_LARGE: { status: 413, meaning: 'The body is larger than `BODY_LIMIT_BYTES`.' },
  URL_TOO_LONG: { status: 414, meaning: 'A path segment is longer than any id the service hands out.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'The body is not `application/json`.' },
  INVALID_REQUEST: { status: 422, meaning: 'The body breaks the contract; `issues` names every wrong field by its path.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, meaning: 'This `Idempotency-Key` was used with another body.' },
  HEADERS_TOO_LARGE: { status: 431, meaning: "The request's headers are larger than the server reads." },
  OUTBOX_UNAVAILABLE: {
    status: 503,
    meaning: 'The outbox cannot be reached now (disk full, or Redis down): nothing was stored, or the status cannot be read. Retry later.',
  },
  INTERNAL: { status: 500, meaning: 'A fault of the service; logged with the request id.' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An error answered as `{"error": {"code", "message", "issues"}}` with the code's status. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly issues: readonly RequestIssue[];

  constructor(code: ApiErrorCode, message: string, issues: readonly RequestIssue[] = []) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.issues = issues;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, issues: this.issues } };
  }
}
