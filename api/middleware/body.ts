// JSON request bodies: 1 MiB cap (413), anything that is not JSON (400, whatever its Content-Type) or not valid UTF-8 (400),
// and a nesting cap so deep input cannot blow the stack later.
import { isUtf8 } from 'node:buffer';
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

export type InputFault = { kind: 'depth' } | { kind: 'string'; path: string } | { kind: 'number'; path: string };

/**
 * Iterative, so the check itself cannot overflow the stack: nesting beyond `maxDepth`, a string PostgreSQL cannot store, or
 * a number that is not finite (JSON.parse reads 1e400 as Infinity, which JSON.stringify would later write as null).
 */
export function inputFault(value: unknown, maxDepth: number): InputFault | null {
  const stack: Array<[unknown, number, string]> = [[value, 1, '']];
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return { kind: 'string', path: path || 'body' };
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { kind: 'number', path: path || 'body' };
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
  if (fault.kind === 'number') {
    throw new ProblemError('validation', `${where} holds a number too large to represent`, { [fault.path]: 'must be a finite number (at most about 1.8e308 in magnitude)' });
  }
  throw new ProblemError('validation', `${where} holds a NUL character or an unpaired surrogate`, { [fault.path]: 'must not contain NUL characters or unpaired surrogates' });
}

/** The `type` of the error a body in UTF-8 (declared or by default) that is not valid UTF-8 raises; problem.ts maps it to 400. */
export const INVALID_UTF8_TYPE = 'entity.utf8.invalid';

/**
 * body-parser's verify hook, on the raw (inflated) bytes: a body read as UTF-8 must be valid UTF-8, or the decoder would
 * replace the bad bytes with U+FFFD and the altered text would be stored. Bodies declared UTF-16/32 are left to their decoder.
 * The error carries its own status, which body-parser keeps (it would otherwise answer 403).
 */
export function verifyUtf8(_req: unknown, _res: unknown, buf: Buffer, encoding: string | null): void {
  if (encoding !== null && encoding.toLowerCase() !== 'utf-8') return;
  if (isUtf8(buf)) return;
  throw Object.assign(new Error('the body is not valid UTF-8'), { status: 400, statusCode: 400, expose: true, type: INVALID_UTF8_TYPE });
}

const parseJson = express.json({
  limit: BODY_LIMIT_BYTES,
  // Every body is read as JSON, whatever its Content-Type (a client's default may be text/plain): one that is not
  // JSON is a 400, as the contract's error table says, never a 415.
  type: () => true,
  strict: false,
  // A "__proto__" key must never reach object spreads or zod records as a prototype.
  reviver: (key, value) => (key === '__proto__' ? undefined : value),
  verify: verifyUtf8,
});

export function jsonBody(): RequestHandler[] {
  const checkInput: RequestHandler = (req, _res, next) => {
    assertStorable(req.query, 'query');
    if (req.body !== undefined) assertStorable(req.body, 'body');
    next();
  };
  return [parseJson, checkInput];
}
