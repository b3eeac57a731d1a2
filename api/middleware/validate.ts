// Turns zod results into values or 422 problems with one message per field path ("merchant.urls.0": "must be ...").
import type { z } from 'zod';
import { ProblemError } from '../../domain/errors';

export function issuesToFieldErrors(issues: readonly z.core.$ZodIssue[], prefix = ''): Record<string, string> {
  const errors: Record<string, string> = {};
  const put = (path: PropertyKey[], message: string) => {
    const key = [prefix, ...path.map(String)].filter((p) => p !== '').join('.') || 'body';
    // Own keys only: `constructor` or `toString` as a field name must be listed too, not taken for one already there.
    // Defined, not assigned: assigning to `__proto__` (a query parameter of that name) would set no key at all.
    if (!Object.hasOwn(errors, key)) Object.defineProperty(errors, key, { value: message, enumerable: true, writable: true, configurable: true });
  };
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) put([...issue.path, k], 'is not a known field');
    } else {
      put(issue.path, issue.message);
    }
  }
  return errors;
}

/** Parses `value` with `schema` or throws a 422 ProblemError listing every bad field. */
export function parseOr422<S extends z.ZodType>(schema: S, value: unknown, what = 'the body', prefix = ''): z.output<S> {
  let result: ReturnType<S['safeParse']>;
  try {
    result = schema.safeParse(value) as ReturnType<S['safeParse']>;
  } catch {
    // A refinement choking on hostile input (e.g. a stack overflow) is still the input's fault.
    throw new ProblemError('validation', `${what} could not be validated`, { [prefix || 'body']: 'could not be validated' });
  }
  if (!result.success) {
    throw new ProblemError('validation', `${what} failed validation`, issuesToFieldErrors(result.error.issues, prefix));
  }
  return result.data as z.output<S>;
}

/**
 * Parses a query string's parameters: an empty one (`?caseId=&type=`) counts as absent, as the contract writes its
 * filters, so it falls back to the default instead of failing validation.
 */
export function parseQueryOr422<S extends z.ZodType>(schema: S, query: Record<string, unknown>): z.output<S> {
  const given = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''));
  return parseOr422(schema, given, 'the query');
}
