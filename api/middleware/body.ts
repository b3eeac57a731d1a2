// JSON request bodies: 1 MiB cap (413), anything that is not JSON (400, whatever its Content-Type), and a nesting cap so
// deep input cannot blow the stack later.
import express, { type RequestHandler } from 'express';
import { ProblemError } from '../../domain/errors';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** Deeper than any schema of ours; recursive code (zod, canonicalize, JSON.stringify, Temporal's converter) stays far from the stack limit. */
export const MAX_JSON_DEPTH = 32;

// PostgreSQL refuses NUL in text and jsonb, and lone surrogates in jsonb: such strings would fail deep inside an activity
// (retried forever) instead of at the edge, so they are refused here.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function unstorableString(s: string): boolean {
  return UNSTORABLE.test(s);
}

export type InputFault = { kind: 'depth' } | { kind: 'string'; path: string };

/** Iterative, so the check itself cannot overflow the stack: nesting beyond `maxDepth`, or a string PostgreSQL cannot store. */
export function inputFault(value: unknown, maxDepth: number): InputFault | null {
  const stack: Array<[unknown, number, string]> = [[value, 1, '']];
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return { kind: 'string', path: path || 'body' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > maxDepth) return { kind: 'depth' };
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    for (const [k, child] of entries) {
      const childPath = path ? `${path}.${k}` : k;
      if (UNSTORABLE.test(k)) return { kind: 'string', path: childPath };
      stack.push([child, depth + 1, childPath]);
    }
  }
  return null;
}

/** Raises the 422 for an input fault; `where` names the part of the request. */
export function assertStorable(value: unknown, where: string): void {
  const fault = inputFault(value, MAX_JSON_DEPTH);
  if (!fault) return;
  if (fault.kind === 'depth') throw new ProblemError('validation', `${where} nests deeper than ${MAX_JSON_DEPTH} levels`, { [where]: `nests deeper than ${MAX_JSON_DEPTH} levels` });
  throw new ProblemError('validation', `${where} holds a NUL character or an unpaired surrogate`, { [fault.path]: 'must not contain NUL characters or unpaired surrogates' });
}

const parseJson = express.json({
  limit: BODY_LIMIT_BYTES,
  // Every body is read as JSON, whatever its Content-Type (a client's default may be text/plain): one that is not
  // JSON is a 400, as the contract's error table says, never a 415.
  type: () => true,
  strict: false,
  // A "__proto__" key must never reach object spreads or zod records as a prototype.
  reviver: (key, value) => (key === '__proto__' ? undefined : value),
});

export function jsonBody(): RequestHandler[] {
  const checkInput: RequestHandler = (req, _res, next) => {
    assertStorable(req.query, 'query');
    if (req.body !== undefined) assertStorable(req.body, 'body');
    next();
  };
  return [parseJson, checkInput];
}
