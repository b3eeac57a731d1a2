// The one table of problem kinds: API errors map to problem+json through it; workflow failures carry its type names.

export const PROBLEMS = {
  bad_request: { status: 400, title: 'Bad request' },
  unauthorized: { status: 401, title: 'Missing, unknown or revoked token' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  precondition_failed: { status: 412, title: 'Precondition failed' },
  payload_too_large: { status: 413, title: 'Body over 1 MiB' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable' },
  validation: { status: 422, title: 'Validation failed' },
  rate_limited: { status: 429, title: 'Too many requests' },
  unavailable: { status: 503, title: 'A dependency is unavailable' },
  internal: { status: 500, title: 'Internal error' },
} as const;

export type ProblemKind = keyof typeof PROBLEMS;

export const PROBLEM_TYPE_BASE = 'https://takedown.dev/problems/';

/** Names of ApplicationFailure types thrown by workflow update handlers and activities; the API maps them to problem kinds. */
export const FAILURE_TYPES = {
  TaskNotFound: 'not_found',
  TaskNotOpen: 'conflict',
  Forbidden: 'forbidden',
  InvalidCompletion: 'validation',
  CaseClosed: 'conflict',
  StepUnderWay: 'conflict',
  PartnerRejected: 'validation',
  IncompleteDocument: 'validation',
} as const satisfies Record<string, ProblemKind>;

export type FailureType = keyof typeof FAILURE_TYPES;

export class ProblemError extends Error {
  constructor(
    readonly kind: ProblemKind,
    detail: string,
    readonly errors?: Record<string, string>,
    /** RFC 9457 extension members beside the standard ones (a 503's `caseId`: what the request may have made). */
    readonly members?: Record<string, string>,
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}
