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

export type InputFault = { kind: 'depth' } | { kind: 'string'; path: string } | { kind: 'number'; path: string } | { kind: 'proto'; path: string };

export interface InputCheckOptions {
  /**
   * Refuse an own `__proto__` key anywhere (JSON.parse makes it an ordinary own property, never the prototype, but
   * Object.assign or a `for...in` copy would turn it into one): what the body gets. Refused rather than dropped, so a
   * client never has part of what it sent silently left out.
   */
  refuseProtoKeys?: boolean;
}

/** What is wrong with a string or number, if anything (other values pass). */
function leafFault(v: unknown): 'string' | 'number' | null {
  if (typeof v === 'string') return UNSTORABLE.test(v) ? 'string' : null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : 'number';
  return null;
}

/**
 * Nesting beyond `maxDepth`, a string PostgreSQL cannot store (in a value or a key), or a number that is not finite
 * (JSON.parse reads 1e400 as Infinity, which JSON.stringify would later write as null).
 *
 * Iterative, so it cannot overflow the stack, and it allocates nothing per array element: a depth-first walk that keeps
 * one frame per open container (at most `maxDepth` of them; an object's frame holds its key list), reads leaves in
 * place, and spells out the path only when it reports a fault. A 1 MiB body of half a million numbers is one pass.
 */
export function inputFault(value: unknown, maxDepth: number, opts: InputCheckOptions = {}): InputFault | null {
  const rootLeaf = leafFault(value);
  if (rootLeaf) return { kind: rootLeaf, path: 'body' };
  if (value === null || typeof value !== 'object') return null;
  if (maxDepth < 1) return { kind: 'depth' };
  // Frame i: an open container, its keys (null for an array) and the next position in it; the root is at depth 1.
  const containers: object[] = [value];
  const keyLists: Array<string[] | null> = [Array.isArray(value) ? null : Object.keys(value)];
  const positions: number[] = [0];
  const pathTo = (last: string): string => {
    const parts: string[] = [];
    for (let f = 0; f < containers.length - 1; f++) {
      const keys = keyLists[f];
      parts.push(keys ? keys[positions[f] - 1] : String(positions[f] - 1));
    }
    parts.push(last);
    return parts.join('.');
  };
  while (containers.length > 0) {
    const top = containers.length - 1;
    const container = containers[top];
    const keys = keyLists[top];
    const i = positions[top];
    if (i >= (keys ? keys.length : (container as unknown[]).length)) {
      containers.pop();
      keyLists.pop();
      positions.pop();
      continue;
    }
    positions[top] = i + 1;
    let child: unknown;
    if (keys) {
      const key = keys[i];
      if (key === '__proto__' && opts.refuseProtoKeys) return { kind: 'proto', path: pathTo(key) };
      if (UNSTORABLE.test(key)) return { kind: 'string', path: pathTo(key) };
      child = (container as Record<string, unknown>)[key];
    } else {
      child = (container as unknown[])[i];
    }
    if (child === null) continue;
    if (typeof child === 'object') {
      if (containers.length + 1 > maxDepth) return { kind: 'depth' };
      containers.push(child);
      keyLists.push(Array.isArray(child) ? null : Object.keys(child));
      positions.push(0);
      continue;
    }
    const leaf = leafFault(child);
    if (leaf) return { kind: leaf, path: pathTo(keys ? keys[i] : String(i)) };
  }
  return null;
}

/** Raises the 422 for an input fault; `where` names the part of the request. */
export function assertStorable(value: unknown, where: string, opts: InputCheckOptions = {}): void {
  const fault = inputFault(value, MAX_JSON_DEPTH, opts);
  if (!fault) return;
  if (fault.kind === 'depth') throw new ProblemError('validation', `${where} nests deeper than ${MAX_JSON_DEPTH} levels`, { [where]: `nests deeper than ${MAX_JSON_DEPTH} levels` });
  if (fault.kind === 'proto') {
    throw new ProblemError('validation', `${where} holds a member named __proto__`, { [fault.path]: 'is not a permitted member name' });
  }
  if (fault.kind === 'number') {
    throw new ProblemError('validation', `${where} holds a number too large to represent`, { [fault.path]: 'must be a finite number (at most about 1.8e308 in magnitude)' });
  }
  throw new ProblemError('validation', `${where} holds a NUL character or an unpaired surrogate`, { [fault.path]: 'must not contain NUL characters or unpaired surrogates' });
}

/** Set on a request whose body was read and had no text: no bytes, or only a byte order mark (body-parser then hands on `{}`). */
const EMPTY_BODY = Symbol('takedown.emptyBody');

/**
 * The JSON body of a request that must carry one (every POST and PUT of the API): none at all, or an empty one, is a
 * 400 like any other body that is not JSON (an empty text is not a JSON text, RFC 8259), not the 422 that validating
 * the `{}` body-parser makes of it would give. Called in the route, after its role checks, so a request that may not
 * be made still gets its 401, 403, 404 or 405 first.
 */
export function bodyOf(req: { body?: unknown }): unknown {
  if (req.body === undefined || (req as Record<symbol, boolean>)[EMPTY_BODY]) throw new ProblemError('bad_request', 'the body is empty: send a JSON object');
  return req.body;
}

/** The `type` of the error a body that is not valid text in its charset (UTF-8 unless declared) raises; problem.ts maps it to 400. */
export const INVALID_TEXT_TYPE = 'entity.text.invalid';

/** Every code unit a valid UTF-32 text may hold: up to U+10FFFF, no surrogate halves. */
function validUtf32(buf: Buffer, littleEndian: boolean): boolean {
  if (buf.length % 4 !== 0) return false;
  for (let i = 0; i < buf.length; i += 4) {
    const cp = littleEndian ? buf.readUInt32LE(i) : buf.readUInt32BE(i);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  }
  return true;
}

/** Whole code units, every surrogate paired. */
function validUtf16(buf: Buffer, littleEndian: boolean): boolean {
  if (buf.length % 2 !== 0) return false;
  try {
    new TextDecoder(littleEndian ? 'utf-16le' : 'utf-16be', { fatal: true, ignoreBOM: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `buf` is valid text in `encoding` (a charset body-parser reads: utf-8, utf-16*, utf-32*), or null for a charset
 * this API does not take. Without a byte order in the label, a byte order mark decides; without one either, the decoder
 * guesses from the bytes, so the text must be valid in one of the two orders.
 */
function validText(buf: Buffer, encoding: string): boolean | null {
  const [, bits, order] = /^utf-(16|32)(le|be)?$/.exec(encoding) ?? [];
  if (encoding === 'utf-8') return isUtf8(buf);
  if (!bits) return null;
  const valid = bits === '16' ? validUtf16 : validUtf32;
  if (order) return valid(buf, order === 'le');
  const bom = bits === '16' ? buf.subarray(0, 2).toString('hex') : buf.subarray(0, 4).toString('hex');
  if (bom === 'fffe' || bom === 'fffe0000') return valid(buf, true);
  if (bom === 'feff' || bom === '0000feff') return valid(buf, false);
  return valid(buf, true) || valid(buf, false);
}

/** The byte order marks of each charset body-parser reads, as hex: its decoder drops a leading U+FEFF in every one. */
const BYTE_ORDER_MARKS: Record<string, string[]> = {
  'utf-8': ['efbbbf'],
  'utf-16': ['fffe', 'feff'],
  'utf-16le': ['fffe'],
  'utf-16be': ['feff'],
  'utf-32': ['fffe0000', '0000feff'],
  'utf-32le': ['fffe0000'],
  'utf-32be': ['0000feff'],
};

/** A body that is a byte order mark and nothing else decodes to an empty text, which the parser would make `{}`. */
function onlyByteOrderMark(buf: Buffer, charset: string): boolean {
  return buf.length <= 4 && (BYTE_ORDER_MARKS[charset]?.includes(buf.toString('hex')) ?? false);
}

/**
 * body-parser's verify hook, on the raw (inflated) bytes: a body must be valid text in its charset (UTF-8 unless it
 * declares UTF-16 or UTF-32), or the decoder would replace the bad bytes with U+FFFD and the altered text would be
 * stored. Any other charset body-parser would read (UTF-7) is refused like the ones it refuses itself. The error carries
 * its own status, which body-parser keeps (it would otherwise answer 403).
 */
export function verifyBodyText(req: unknown, _res: unknown, buf: Buffer, encoding: string | null): void {
  const charset = (encoding ?? 'utf-8').toLowerCase();
  if ((buf.length === 0 || onlyByteOrderMark(buf, charset)) && req) (req as Record<symbol, boolean>)[EMPTY_BODY] = true;
  const valid = validText(buf, charset);
  if (valid === null) throw Object.assign(new Error(`unsupported charset "${charset}"`), { status: 400, statusCode: 400, expose: true, type: 'charset.unsupported' });
  if (valid) return;
  const name = charset === 'utf-8' ? 'UTF-8' : charset.toUpperCase();
  throw Object.assign(new Error(`the body is not valid ${name}`), { status: 400, statusCode: 400, expose: true, type: INVALID_TEXT_TYPE });
}

const parseJson = express.json({
  limit: BODY_LIMIT_BYTES,
  // Every body is read as JSON, whatever its Content-Type (a client's default may be text/plain): one that is not
  // JSON is a 400, as the contract's error table says, never a 415.
  type: () => true,
  strict: false,
  // Plain JSON.parse, no reviver: a reviver sends the parser down a slow path (about 50x on a wide array) for every
  // caller that holds any token, before any route checks its role. `__proto__` keys are refused by checkInput instead.
  verify: verifyBodyText,
});

export function jsonBody(): RequestHandler[] {
  const checkInput: RequestHandler = (req, _res, next) => {
    assertStorable(req.query, 'query');
    // A "__proto__" key must never reach object spreads, Object.assign or zod records, where it could become a prototype.
    if (req.body !== undefined) assertStorable(req.body, 'body', { refuseProtoKeys: true });
    next();
  };
  return [parseJson, checkInput];
}
