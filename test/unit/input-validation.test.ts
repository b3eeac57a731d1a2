// Input validation at the edges: calendar-exact dates, amounts, action dates, page limits, cursors, non-finite numbers,
// invalid UTF-8, and the problem answers for bad requests (titles, details, WWW-Authenticate).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Response } from 'express';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { decodeCursor, encodeCursor } from '../../api/cursor';
import { assertStorable, BODY_LIMIT_BYTES, bodyOf, inputFault, INVALID_TEXT_TYPE, jsonBody, MAX_JSON_DEPTH, verifyBodyText } from '../../api/middleware/body';
import { mapError, problemHandler, sendProblem } from '../../api/middleware/problem';
import { PROBLEMS } from '../../domain/errors';
import { checkCompletion, completionDataInUtc, isFullDate, isRfc3339, isStorableRfc3339, MAX_ACTION_DATE_AHEAD_DAYS, rfc3339Millis, toUtc, validateOutcome } from '../../domain/rules/tasks';
import { issuesToFieldErrors } from '../../api/middleware/validate';
import { AddEvidenceSchema, AuditExportQuerySchema, CaseInputSchema, CaseListQuerySchema, PartnerPutSchema, PrincipalCreateSchema, TaskListQuerySchema, WithdrawSchema, type z } from '../../domain/schemas';
import type { Actor, Task } from '../../domain/types';
import { sampleCase } from '../support/fixtures';
import { problemOf } from '../support/problems';


const DAY = 86_400_000;

describe('RFC 3339 date-times', () => {
  it('accepts real instants with Z or an offset, and reads them as Date.parse does', () => {
    for (const ok of [
      '2026-02-28T23:59:59Z',
      '2024-02-29T00:00:00Z',
      '2000-02-29T12:00:00+01:00',
      '2026-12-31T23:59:59.999999-05:30',
      '2026-04-30T00:00:00.5+14:00',
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
    ]) {
      expect(isRfc3339(ok), ok).toBe(true);
      expect(rfc3339Millis(ok), ok).toBe(Date.parse(ok));
    }
    expect(rfc3339Millis('0050-06-01T00:00:00Z')).toBe(Date.parse('0050-06-01T00:00:00Z'));
    // RFC 3339 section 5.6: "T" and "Z" may be written in lower case.
    expect(rfc3339Millis('2026-11-20t10:00:00z')).toBe(Date.parse('2026-11-20T10:00:00Z'));
    expect(rfc3339Millis('2026-11-20t11:00:00.25+01:00')).toBe(Date.parse('2026-11-20T10:00:00.250Z'));
  });

  it('refuses days, hours, minutes, seconds and offsets that do not exist, which Date.parse rolls over', () => {
    for (const bad of [
      '2026-02-31T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2026-04-31T00:00:00+02:00',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T23:60:00Z',
      '2026-01-01T23:59:60Z',
      '2026-01-01T00:00:00+24:00',
      '2026-01-01T00:00:00-01:60',
      '2026-01-01T00:00:00',
      '2026-01-01 00:00:00Z',
      '2026-01-01',
      ' 2026-01-01T00:00:00Z',
      '2026-13-45T99:99:99Z',
      1767225600000,
      null,
    ]) {
      expect(isRfc3339(bad), String(bad)).toBe(false);
    }
  });

  it('checks full dates (YYYY-MM-DD) against the calendar', () => {
    for (const ok of ['2024-02-29', '2026-12-31', '2000-02-29']) expect(isFullDate(ok), ok).toBe(true);
    for (const bad of ['2026-02-29', '2026-02-31', '1900-02-29', '2026-13-01', '2026-06-31', '2026-6-1', '2026-01-01T00:00:00Z', 20260101]) {
      expect(isFullDate(bad), String(bad)).toBe(false);
    }
  });

  it('keeps date-times PostgreSQL compares with timestamptz within years 0001-9999 UTC', () => {
    expect(isStorableRfc3339('0001-01-01T00:00:00Z')).toBe(true);
    expect(isStorableRfc3339('9999-12-31T23:59:59.999Z')).toBe(true);
    expect(isStorableRfc3339('0000-12-31T23:59:59Z')).toBe(false);
    expect(isStorableRfc3339('0001-01-01T00:30:00+01:00')).toBe(false);
    expect(isStorableRfc3339('9999-12-31T23:30:00-01:00')).toBe(false);
    expect(isStorableRfc3339('2026-02-31T00:00:00Z')).toBe(false);
  });
});

describe('times in UTC', () => {
  it('turns a date-time with an offset into the same instant in UTC, and leaves UTC and non-dates alone', () => {
    expect(toUtc('2026-11-26T10:00:00+02:00')).toBe('2026-11-26T08:00:00.000Z');
    expect(toUtc('2026-11-26T00:30:00-01:00')).toBe('2026-11-26T01:30:00.000Z');
    expect(toUtc('2026-11-26T10:00:00Z')).toBe('2026-11-26T10:00:00Z');
    expect(toUtc('2026-11-26t10:00:00z')).toBe('2026-11-26T10:00:00.000Z');
    expect(toUtc('2026-11-26t10:00:00Z')).toBe('2026-11-26T10:00:00.000Z');
    expect(toUtc('2026-02-31T10:00:00+02:00')).toBe('2026-02-31T10:00:00+02:00');
    expect(toUtc(42)).toBe(42);
    // An instant RFC 3339 cannot write in UTC (year -1, year 10000) is left as given, for validation to refuse by its range.
    expect(toUtc('0000-01-01T00:30:00+01:00')).toBe('0000-01-01T00:30:00+01:00');
    expect(toUtc('9999-12-31T23:30:00-01:00')).toBe('9999-12-31T23:30:00-01:00');
    expect(toUtc('0000-01-01T01:30:00+01:00')).toBe('0000-01-01T00:30:00.000Z');
    // Digits past the milliseconds are kept as written, with an offset as in UTC.
    expect(toUtc('2026-01-01T00:00:00.123456+01:00')).toBe('2025-12-31T23:00:00.123456Z');
    expect(toUtc('2026-01-01T00:00:00.999999999-00:30')).toBe('2026-01-01T00:30:00.999999999Z');
    expect(toUtc('2026-01-01T00:00:00.5+01:00')).toBe('2025-12-31T23:00:00.500Z');
    expect(completionDataInUtc({ terminatedAt: '2026-11-26T10:00:00+01:00', note: '2026-11-26T10:00:00+01:00' })).toEqual({
      terminatedAt: '2026-11-26T09:00:00.000Z',
      note: '2026-11-26T10:00:00+01:00',
    });
  });

  it("stores evidence's collectedAt in UTC", () => {
    const base = sampleCase();
    const parsed = CaseInputSchema.parse({ ...base, evidence: [{ ...base.evidence[0], collectedAt: '2026-11-01T12:00:00+02:00' }] });
    expect(parsed.evidence[0].collectedAt).toBe('2026-11-01T10:00:00.000Z');
    // Within years 0001-9999 UTC, whatever the offset: never stored as given, nor as -000001-12-31T23:30:00.000Z.
    for (const collectedAt of ['0000-01-01T00:30:00+01:00', '0000-06-01T00:00:00Z', '9999-12-31T23:30:00-01:00']) {
      const r = CaseInputSchema.safeParse({ ...base, evidence: [{ ...base.evidence[0], collectedAt }] });
      expect(r.success, collectedAt).toBe(false);
      expect(r.error?.issues[0].message).toMatch(/years 0001-9999/);
    }
  });
});

describe('dates in schemas and cursors', () => {
  it('refuses an impossible dateOpened or evidence collectedAt, naming the field', () => {
    const base = sampleCase({}, 'dates');
    const opened = CaseInputSchema.safeParse({ ...base, merchant: { ...base.merchant, dateOpened: '2026-02-30' } });
    expect(opened.success).toBe(false);
    expect(opened.error?.issues.map((i) => i.path.join('.'))).toEqual(['merchant.dateOpened']);
    expect(CaseInputSchema.safeParse({ ...base, merchant: { ...base.merchant, dateOpened: '2024-02-29' } }).success).toBe(true);
    const collected = CaseInputSchema.safeParse({ ...base, evidence: [{ ...base.evidence[0], collectedAt: '2026-02-31T10:00:00Z' }] });
    expect(collected.success).toBe(false);
    expect(collected.error?.issues.map((i) => i.path.join('.'))).toEqual(['evidence.0.collectedAt']);
  });

  it('refuses audit export bounds that do not exist or that PostgreSQL cannot take', () => {
    expect(AuditExportQuerySchema.safeParse({ from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00+01:00' }).success).toBe(true);
    for (const [key, value] of [
      ['from', '2026-02-31T00:00:00Z'],
      ['to', '2026-04-31T00:00:00+02:00'],
      ['from', '0000-01-01T00:00:00Z'],
      ['to', '9999-12-31T23:59:59-01:00'],
    ]) {
      const r = AuditExportQuerySchema.safeParse({ [key]: value });
      expect(r.success, value).toBe(false);
      expect(r.error?.issues[0].path, value).toEqual([key]);
    }
  });

  it('refuses a cursor whose date does not exist with a 422 naming cursor', () => {
    const good = encodeCursor('2026-02-28T10:00:00.000Z', 'case_a');
    expect(decodeCursor(good)).toEqual({ createdAt: '2026-02-28T10:00:00.000Z', id: 'case_a' });
    for (const at of ['2026-02-31T10:00:00.000Z', '2026-01-01T24:00:00Z', '0000-01-01T00:00:00Z']) {
      const p = problemOf(() => decodeCursor(encodeCursor(at, 'case_a')));
      expect(p.kind, at).toBe('validation');
      expect(p.errors, at).toHaveProperty('cursor');
    }
  });
});

describe('URLs and short texts as sent', () => {
  const base = sampleCase();
  const secret = `whsec_${'A'.repeat(43)}=`;
  /** The 422's field errors for a value that fails, or null when it parses. */
  const fieldErrors = (schema: z.ZodType, value: unknown) => {
    const r = schema.safeParse(value);
    return r.success ? null : issuesToFieldErrors(r.error.issues);
  };
  const URL_RULE = /must not contain spaces, line breaks, control characters/;

  it('refuses a URL with control characters, whitespace, bidi controls or invisible characters, which URL parsing would drop or encode', () => {
    for (const bad of [
      'http://x.test/\r\nX-Evil: 1',
      'https://x.test/\r\nX: y',
      'https://x.test/a\tb',
      'https://x.test/\u0000',
      'https://x.test/\u007f',
      'https://x.test/\u0085',
      'https://x.test/a b',
      ' https://x.test/a',
      'https://x.test/a\u00a0',
      'https://x.test/a\u3000',
      'https://x.test/\u202egnp.exe',
      'https://x.test/\u2066a\u2069',
      'https://x.test/\u200e',
      'https://ex\u200bample.test/',
      'https://ex\u00adample.test/',
      'https://x.test/\ufeff',
    ]) {
      expect(fieldErrors(CaseInputSchema, { ...base, merchant: { ...base.merchant, urls: [bad] } }), JSON.stringify(bad)).toEqual({ 'merchant.urls.0': expect.stringMatching(URL_RULE) });
      expect(fieldErrors(CaseInputSchema, { ...base, merchant: { ...base.merchant, hosting: [{ ...base.merchant.hosting[0], urls: [bad] }] } })).toEqual({ 'merchant.hosting.0.urls.0': expect.stringMatching(URL_RULE) });
      expect(fieldErrors(PartnerPutSchema, { kind: 'acquirer', webhookUrl: bad, secret })).toEqual({ webhookUrl: expect.stringMatching(URL_RULE) });
      expect(fieldErrors(AddEvidenceSchema, { urls: [bad] })).toEqual({ 'urls.0': expect.stringMatching(URL_RULE) });
    }
  });

  it('takes and keeps URLs as sent when they need none of these (percent-encoded, IDN and IPv6 hosts included)', () => {
    for (const ok of ['https://x.test/a%20b?q=%0D%0A', 'https://bücher.example/ü', 'http://[2001:db8::1]:8080/x', 'HTTPS://X.test/Path']) {
      const parsed = CaseInputSchema.parse({ ...base, merchant: { ...base.merchant, urls: [ok] } });
      expect(parsed.merchant.urls).toEqual([ok]);
    }
  });

  it('refuses short texts with control characters or bidi controls, and ones with nothing visible', () => {
    const cases: [string, string, RegExp][] = [
      ['reference', 'EFC\u202e1', /bidirectional-text controls/],
      ['reference', '\u200b\u202e', /bidirectional-text controls/],
      ['reference', '\u200b', /invisible characters alone/],
      ['reference', ' \u200b\u200d\u2060 ', /invisible characters alone/],
      ['reference', 'EFC\n1', /one line, without control characters/],
      ['reference', 'EFC\u00001', /one line/],
      ['reference', 'EFC\u009b1', /one line/],
      ['reference', 'EFC\u200f1', /bidirectional/],
      ['reference', 'EFC\u061c1', /bidirectional/],
    ];
    for (const [field, value, message] of cases) {
      expect(fieldErrors(CaseInputSchema, { ...base, [field]: value }), JSON.stringify(value)).toEqual({ [field]: expect.stringMatching(message) });
    }
    expect(fieldErrors(CaseInputSchema, { ...base, merchant: { ...base.merchant, name: '\u200b\u202e' } })).toEqual({ 'merchant.name': expect.stringMatching(/bidirectional/) });
    expect(fieldErrors(CaseInputSchema, { ...base, merchant: { ...base.merchant, principals: [{ name: '\u2067Eve\u2069' }] } })).toEqual({ 'merchant.principals.0.name': expect.stringMatching(/bidirectional/) });
    expect(fieldErrors(CaseInputSchema, { ...base, merchant: { ...base.merchant, principals: [{ name: '\u200b' }] } })).toEqual({ 'merchant.principals.0.name': expect.stringMatching(/invisible/) });
    expect(fieldErrors(PrincipalCreateSchema, { name: 'desk\r\nX-Evil: 1', org: 'ceop', roles: ['analyst'] })).toEqual({ name: expect.stringMatching(/one line/) });
    expect(fieldErrors(PartnerPutSchema, { kind: 'acquirer', name: '\ufeff\u200b' })).toEqual({ name: expect.stringMatching(/invisible|required/) });
    // Multi-line texts take line breaks and tabs, nothing else of the kind.
    expect(fieldErrors(WithdrawSchema, { reason: 'no\u0007bell' })).toEqual({ reason: expect.stringMatching(/other than line breaks and tabs/) });
    expect(fieldErrors(WithdrawSchema, { reason: 'see \u202enote' })).toEqual({ reason: expect.stringMatching(/bidirectional/) });
  });

  it('keeps legitimate text as sent: U+200D inside a name, other scripts, line breaks where a text may have several lines', () => {
    const name = 'Studio 👩\u200d💻 Kāne';
    const parsed = CaseInputSchema.parse({
      ...base,
      reference: 'EFC-2026-0042',
      merchant: { ...base.merchant, name, legalName: 'شركة المثال', address: '1 High St\r\nLondon\tEC1', principals: [{ name: 'कृष्ण\u200d', address: 'Line 1\nLine 2' }] },
      evidence: [{ ...base.evidence[0], description: 'first line\nsecond line' }],
    });
    expect(parsed.merchant.name).toBe(name);
    expect(parsed.merchant.legalName).toBe('شركة المثال');
    expect(parsed.merchant.address).toBe('1 High St\r\nLondon\tEC1');
    expect(parsed.merchant.principals?.[0]).toEqual({ name: 'कृष्ण\u200d', address: 'Line 1\nLine 2' });
    expect(parsed.evidence[0].description).toBe('first line\nsecond line');
    expect(WithdrawSchema.parse({ reason: 'duplicate\n\ncase' })).toEqual({ reason: 'duplicate\n\ncase' });
    // Surrounding blanks are trimmed, as before.
    expect(CaseInputSchema.parse({ ...base, reference: '  EFC-1 ' }).reference).toBe('EFC-1');
  });
});

describe('page limits', () => {
  it('take plain decimal digits only, 1 to 200, and default to 50', () => {
    expect(CaseListQuerySchema.parse({}).limit).toBe(50);
    expect(TaskListQuerySchema.parse({ limit: '7' }).limit).toBe(7);
    expect(CaseListQuerySchema.parse({ limit: '200' }).limit).toBe(200);
    expect(CaseListQuerySchema.parse({ limit: '010' }).limit).toBe(10);
    for (const bad of ['0x10', '  5', '5 ', '2e0', '1.0', '+5', '-1', '0', '201', '', 'abc', '１', '99999999999', ['1', '2']]) {
      for (const schema of [CaseListQuerySchema, TaskListQuerySchema]) {
        const r = schema.safeParse({ limit: bad });
        expect(r.success, JSON.stringify(bad)).toBe(false);
        expect(r.error?.issues[0].path, JSON.stringify(bad)).toEqual(['limit']);
      }
    }
  });
});

describe('completion data', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');

  it('takes an amount as a finite non-negative number or a plain decimal string', () => {
    for (const amount of [0, 1250, 1250.5, '1250.00', '0', '7']) {
      expect(validateOutcome('confirm_freeze', { outcome: 'frozen', data: { amount, currency: 'EUR' } }), JSON.stringify(amount)).toEqual({});
    }
    for (const amount of [' ', '  ', 'abc', '1e3', '0x10', '-1', '+1', '1,250.00', '.5', '5.', ' 12', 'Infinity', 'NaN', '9'.repeat(400), -1, Number.POSITIVE_INFINITY, Number.NaN, true, {}, [], null]) {
      const errors = validateOutcome('confirm_freeze', { outcome: 'frozen', data: { amount, currency: 'EUR' } });
      expect(Object.keys(errors), JSON.stringify(amount)).toEqual(['data.amount']);
    }
    expect(validateOutcome('confirm_freeze', { outcome: 'frozen', data: { amount: '', currency: 'EUR' } })).toEqual({ 'data.amount': 'is required' });
  });

  it('refuses an actionDate more than a year ahead, and keeps near and past ones', () => {
    const approve = (actionDate: unknown) => validateOutcome('le_signoff', { outcome: 'approved', data: { actionDate } }, now);
    expect(approve('2026-06-15T09:00:00Z')).toEqual({});
    expect(approve('2020-01-01T00:00:00Z')).toEqual({});
    expect(approve(new Date(now + MAX_ACTION_DATE_AHEAD_DAYS * DAY).toISOString())).toEqual({});
    expect(approve(new Date(now + MAX_ACTION_DATE_AHEAD_DAYS * DAY + 1000).toISOString())).toHaveProperty('data.actionDate');
    expect(approve('9999-12-31T23:59:59Z')).toEqual({ 'data.actionDate': `must be at most ${MAX_ACTION_DATE_AHEAD_DAYS} days from now` });
    expect(approve('2026-02-31T00:00:00Z')).toEqual({ 'data.actionDate': 'must be an RFC 3339 date-time' });
    // Without `now`, the clock (in a workflow: workflow time) decides.
    expect(validateOutcome('le_signoff', { outcome: 'approved', data: { actionDate: '9999-12-31T23:59:59Z' } })).toHaveProperty('data.actionDate');
  });

  it('reports these through checkCompletion, with its four-argument form unchanged', () => {
    const actor: Actor = { id: 'p_officer', org: 'ceop', roles: ['le_officer'] };
    const task = { id: 't1', type: 'le_signoff', status: 'open', assignee: { org: 'ceop', role: 'le_officer' }, roles: ['le_officer'] } as Task;
    const facts = { createdBy: 'p_lead', verifiedBy: null };
    const far = checkCompletion(task, actor, { taskId: 't1', outcome: 'approved', data: { actionDate: '9999-12-31T23:59:59Z' } }, facts);
    expect(far).toMatchObject({ kind: 'invalid', errors: { 'data.actionDate': expect.any(String) } });
    expect(checkCompletion(task, actor, { taskId: 't1', outcome: 'approved', data: { actionDate: '2026-06-15T09:00:00Z' } }, facts, now)).toBeNull();
    const freeze = { ...task, type: 'confirm_freeze', assignee: { org: 'acq', role: 'partner' }, roles: ['partner'] } as Task;
    const partner: Actor = { id: 'p_acq', org: 'acq', roles: ['partner'] };
    expect(checkCompletion(freeze, partner, { taskId: 't1', outcome: 'frozen', data: { amount: ' ', currency: 'EUR' } }, facts)).toMatchObject({
      kind: 'invalid',
      errors: { 'data.amount': expect.any(String) },
    });
  });
});

describe('non-finite numbers', () => {
  it('are found wherever they sit and named by path', () => {
    expect(inputFault({ data: { amount: Number.POSITIVE_INFINITY } }, MAX_JSON_DEPTH)).toEqual({ kind: 'number', path: 'data.amount' });
    expect(inputFault([1, [Number.NEGATIVE_INFINITY]], MAX_JSON_DEPTH)).toEqual({ kind: 'number', path: '1.0' });
    expect(inputFault(Number.NaN, MAX_JSON_DEPTH)).toEqual({ kind: 'number', path: 'body' });
    expect(inputFault({ big: 1e308, small: -1e-320, zero: -0 }, MAX_JSON_DEPTH)).toBeNull();
    const p = problemOf(() => assertStorable(JSON.parse('{"data":{"amount":1e400}}'), 'body'));
    expect(p.kind).toBe('validation');
    expect(Object.keys(p.errors ?? {})).toEqual(['data.amount']);
  });
});

describe('wide bodies (any token holder may send 1 MiB before a route checks its role)', () => {
  const WIDE = 500_000;

  it('checks a 500k-element array in one pass, reading each element once and building no per-element entries', () => {
    const reads = new Map<PropertyKey, number>();
    const target: unknown[] = new Array(WIDE).fill(0);
    const counted = new Proxy(target, {
      get(t, key, receiver) {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        return Reflect.get(t, key, receiver);
      },
    });
    expect(inputFault(counted, MAX_JSON_DEPTH)).toBeNull();
    // No map/entries/iterator (each would make an entry or a path per element): the length, then every index once.
    const methods = [...reads.keys()].filter((k) => typeof k !== 'string' || !/^\d+$/.test(k));
    expect(methods).toEqual(['length']);
    expect(reads.size - 1).toBe(WIDE);
    expect([...reads.entries()].every(([k, n]) => k === 'length' || n === 1)).toBe(true);
  });

  it('still finds and names the one bad element of a 500k-element array, wherever it sits', () => {
    const wide: unknown[] = new Array(WIDE).fill(0);
    wide[WIDE - 1] = Number.POSITIVE_INFINITY;
    expect(inputFault(wide, MAX_JSON_DEPTH)).toEqual({ kind: 'number', path: String(WIDE - 1) });
    wide[WIDE - 1] = 0;
    wide[250_000] = 'a\u0000';
    expect(inputFault({ data: { list: wide } }, MAX_JSON_DEPTH)).toEqual({ kind: 'string', path: 'data.list.250000' });
    wide[250_000] = 0;
    expect(inputFault({ data: { list: wide } }, MAX_JSON_DEPTH)).toBeNull();
  });

  it('names the path through arrays and objects, for values and keys, and counts depth as before', () => {
    expect(inputFault({ a: [1, { b: ['x', '\ud800'] }], c: 1 }, MAX_JSON_DEPTH)).toEqual({ kind: 'string', path: 'a.1.b.1' });
    expect(inputFault([[], { ok: 1 }, [0, { ['k\u0000']: 1 }]], MAX_JSON_DEPTH)).toEqual({ kind: 'string', path: '2.1.k\u0000' });
    expect(inputFault('\u0000', MAX_JSON_DEPTH)).toEqual({ kind: 'string', path: 'body' });
    expect(inputFault(null, MAX_JSON_DEPTH)).toBeNull();
    // MAX_JSON_DEPTH containers pass, one more (even an empty one) is too deep.
    const nest = (n: number): unknown => (n === 1 ? [] : [nest(n - 1)]);
    expect(inputFault(nest(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBeNull();
    expect(inputFault(nest(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toEqual({ kind: 'depth' });
    expect(inputFault({ a: nest(MAX_JSON_DEPTH) }, MAX_JSON_DEPTH)).toEqual({ kind: 'depth' });
  });

  it('refuses __proto__ keys at any depth when asked (the body), naming where, and only then', () => {
    const parse = (text: string) => JSON.parse(text) as unknown;
    expect(inputFault(parse('{"a":1,"__proto__":{"isAdmin":true}}'), MAX_JSON_DEPTH)).toBeNull();
    expect(inputFault(parse('{"a":1,"__proto__":{"isAdmin":true}}'), MAX_JSON_DEPTH, { refuseProtoKeys: true })).toEqual({ kind: 'proto', path: '__proto__' });
    expect(inputFault(parse('{"a":[{"b":2,"__proto__":{"x":1}}]}'), MAX_JSON_DEPTH, { refuseProtoKeys: true })).toEqual({ kind: 'proto', path: 'a.0.__proto__' });
    expect(inputFault(parse('{"c":{"d":{"__proto__":null}}}'), MAX_JSON_DEPTH, { refuseProtoKeys: true })).toEqual({ kind: 'proto', path: 'c.d.__proto__' });
    // Other names that merely look like it are data.
    expect(inputFault(parse('{"constructor":{"prototype":{"x":1}},"__proto":1,"_proto_":2}'), MAX_JSON_DEPTH, { refuseProtoKeys: true })).toBeNull();
  });

  it('parses a body with one plain JSON.parse (no reviver) and answers wide bodies as before', async () => {
    const app = express();
    app.post('/', ...jsonBody(), (req: express.Request, res: express.Response) => {
      res.json({ kind: Array.isArray(req.body) ? 'array' : typeof req.body, keys: Object.keys(req.body ?? {}).length, proto: Object.hasOwn(req.body ?? {}, '__proto__') });
    });
    app.use(problemHandler(pino({ level: 'silent' })));
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const post = async (body: string) => {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const zeros = `[${new Array(WIDE).fill('0').join(',')}]`;
      expect(zeros.length).toBeLessThan(BODY_LIMIT_BYTES);
      parse.mockClear();
      expect(await post(zeros)).toEqual({ status: 200, body: { kind: 'array', keys: WIDE, proto: false } });
      const serverParses = parse.mock.calls.filter(([text]) => text === zeros);
      expect(serverParses).toHaveLength(1);
      expect(serverParses[0][1]).toBeUndefined();
      expect(await post(zeros.replace(/0]$/, '1e999]'))).toMatchObject({ status: 422, body: { errors: { [String(WIDE - 1)]: expect.any(String) } } });
      // Refused, naming the member, rather than dropped: nothing a client sends is silently left out.
      const proto = await post('{"a":1,"b":{"__proto__":{"isAdmin":true}}}');
      expect(proto.status).toBe(422);
      expect(proto.body.errors).toEqual({ 'b.__proto__': 'is not a permitted member name' });
      expect((await post(`[${'0,'.repeat(BODY_LIMIT_BYTES / 2)}0]`)).status).toBe(413);
      expect((await post('[0,')).status).toBe(400);
    } finally {
      parse.mockRestore();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('body text', () => {
  const bad = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);

  it('refuses invalid UTF-8 with an error body-parser keeps as a 400', () => {
    expect(() => verifyBodyText(null, null, Buffer.from('{"name":"é😀"}'), 'utf-8')).not.toThrow();
    expect(() => verifyBodyText(null, null, Buffer.from('\ufeff{}'), 'utf-8')).not.toThrow();
    for (const enc of ['utf-8', 'UTF-8', null]) {
      let thrown: unknown;
      try {
        verifyBodyText(null, null, bad, enc);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, String(enc)).toMatchObject({ status: 400, type: INVALID_TEXT_TYPE });
    }
    // Truncated sequences and overlong encodings are not UTF-8 either.
    expect(() => verifyBodyText(null, null, Buffer.from([0x7b, 0xc3]), 'utf-8')).toThrow();
    expect(() => verifyBodyText(null, null, Buffer.from([0xc0, 0xaf]), 'utf-8')).toThrow();
  });

  it('holds UTF-16 and UTF-32 bodies to their own rules, in the byte order the label, the BOM or the bytes give', () => {
    const json = '{"a":"é😀"}';
    const utf32 = (text: string, le: boolean, cps = [...text].map((c) => c.codePointAt(0)!)) => {
      const b = Buffer.alloc(cps.length * 4);
      cps.forEach((c, i) => (le ? b.writeUInt32LE(c, i * 4) : b.writeUInt32BE(c, i * 4)));
      return b;
    };
    const utf16be = Buffer.from(json, 'utf16le').swap16();
    const good: [Buffer, string][] = [
      [Buffer.from(json, 'utf16le'), 'utf-16le'],
      [utf16be, 'utf-16be'],
      [Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be]), 'utf-16'],
      [Buffer.from(json, 'utf16le'), 'utf-16'],
      [utf32(json, true), 'utf-32le'],
      [utf32(json, false), 'utf-32be'],
      [utf32('\ufeff' + json, false), 'utf-32'],
      [utf32(json, true), 'utf-32'],
    ];
    for (const [buf, enc] of good) expect(() => verifyBodyText(null, null, buf, enc), enc).not.toThrow();
    const lone = Buffer.from('{"a":"\ud800"}', 'utf16le');
    const past = utf32('{"a":"ab"}', true);
    past.writeUInt32LE(0x110000, 7 * 4);
    const bad: [Buffer, string, string][] = [
      [lone, 'utf-16le', 'the body is not valid UTF-16LE'],
      [Buffer.from([0x7b, 0x00, 0x7d]), 'utf-16le', 'the body is not valid UTF-16LE'],
      [Buffer.concat([Buffer.from([0xff, 0xfe]), lone]), 'utf-16', 'the body is not valid UTF-16'],
      [past, 'utf-32le', 'the body is not valid UTF-32LE'],
      [past, 'utf-32', 'the body is not valid UTF-32'],
      [utf32('{"a":"\ud800"}', false, [0x7b, 0xd800, 0x7d]), 'utf-32be', 'the body is not valid UTF-32BE'],
      [utf32(json, true).subarray(1), 'utf-32le', 'the body is not valid UTF-32LE'],
    ];
    for (const [buf, enc, detail] of bad) {
      let thrown: unknown;
      try {
        verifyBodyText(null, null, buf, enc);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, enc).toMatchObject({ status: 400, type: INVALID_TEXT_TYPE });
      expect(mapError(thrown), enc).toEqual({ kind: 'bad_request', detail });
    }
    // A charset body-parser would decode but this API does not take.
    expect(() => verifyBodyText(null, null, Buffer.from('{}'), 'utf-7')).toThrow(expect.objectContaining({ status: 400, type: 'charset.unsupported' }));
  });

  it('takes a body that is only a byte order mark of its charset for an empty one (it decoded to "" and was parsed as {})', () => {
    const marks: [string, string | null][] = [
      ['', 'utf-8'],
      ['efbbbf', 'utf-8'],
      ['efbbbf', null],
      ['fffe', 'utf-16'],
      ['feff', 'UTF-16'],
      ['fffe', 'utf-16le'],
      ['feff', 'utf-16be'],
      ['fffe0000', 'utf-32'],
      ['0000feff', 'utf-32'],
      ['fffe0000', 'utf-32le'],
      ['0000feff', 'utf-32be'],
    ];
    for (const [hex, enc] of marks) {
      const req = { body: {} };
      verifyBodyText(req, null, Buffer.from(hex, 'hex'), enc);
      expect(problemOf(() => bodyOf(req)), `${hex} ${enc}`).toMatchObject({ kind: 'bad_request', message: 'the body is empty: send a JSON object' });
    }
    // A mark before JSON, or bytes that are not its charset's mark (U+FFFE in UTF-16LE): text, read as sent.
    for (const [hex, enc] of [['efbbbf7b7d', 'utf-8'], ['fffe7b007d00', 'utf-16'], ['feff', 'utf-16le'], ['7b7d', 'utf-8']] as const) {
      const req = { body: {} };
      verifyBodyText(req, null, Buffer.from(hex, 'hex'), enc);
      expect(bodyOf(req), `${hex} ${enc}`).toBe(req.body);
    }
  });

  it('maps it to a 400 problem that says so', () => {
    expect(mapError(Object.assign(new Error('x'), { status: 400, type: INVALID_TEXT_TYPE }))).toEqual({ kind: 'bad_request', detail: 'the body is not valid UTF-8' });
  });
});

describe('other client errors', () => {
  it('maps a Range past the end of a static file to 416, not 400', () => {
    expect(mapError(Object.assign(new Error('Range Not Satisfiable'), { status: 416, statusCode: 416 })).kind).toBe('range_not_satisfiable');
  });

  it('maps a static file precondition that does not hold (If-Match, If-Unmodified-Since) to 412, not a 400 "malformed request"', () => {
    expect(mapError(Object.assign(new Error('Precondition Failed'), { status: 412, statusCode: 412 }))).toEqual({ kind: 'precondition_failed', detail: 'Precondition failed' });
  });
});

describe('bad request answers', () => {
  it('have a generic title and a detail that names what is wrong', () => {
    expect(PROBLEMS.bad_request.title).toBe('Bad request');
    const uri = Object.assign(new URIError("Failed to decode param '%ff'"), { status: 400, statusCode: 400 });
    expect(mapError(uri)).toEqual({ kind: 'bad_request', detail: 'the path is not valid percent-encoding' });
    const deep = Object.assign(new RangeError('Maximum call stack size exceeded'), { status: 400, type: 'entity.parse.failed' });
    expect(mapError(deep)).toEqual({ kind: 'validation', detail: 'body nests deeper than 32 levels', errors: { body: 'nests deeper than 32 levels' } });
    const syntax = Object.assign(new SyntaxError('Unexpected end of JSON input'), { status: 400, type: 'entity.parse.failed' });
    expect(mapError(syntax)).toEqual({ kind: 'bad_request', detail: 'the body is not valid JSON' });
  });

  it('send WWW-Authenticate: Bearer with every 401, and only with 401', () => {
    const fakeRes = () => {
      const headers: Record<string, string> = {};
      const res = {
        headers,
        setHeader(name: string, value: string) {
          headers[name.toLowerCase()] = value;
          return res;
        },
        status() {
          return res;
        },
        type() {
          return res;
        },
        send() {
          return res;
        },
      };
      return res;
    };
    const unauthorized = fakeRes();
    sendProblem(unauthorized as unknown as Response, 'unauthorized', 'send Authorization: Bearer <token>');
    expect(unauthorized.headers['www-authenticate']).toBe('Bearer');
    const forbidden = fakeRes();
    sendProblem(forbidden as unknown as Response, 'forbidden', 'no');
    expect(forbidden.headers['www-authenticate']).toBeUndefined();
  });
});
