// Pure pieces of the API: cursors, Idempotency-Key parsing and body hashing, input checks, zod error mapping, error mapping, partner views.
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../api/cursor';
import { bodyHash, idempotencyKeyOf } from '../../api/idempotency';
import { newCaseId, newPrincipalId } from '../../api/ids';
import { generateToken, hashToken, TOKEN_RE } from '../../api/middleware/auth';
import { inputFault, MAX_JSON_DEPTH } from '../../api/middleware/body';
import { mapError } from '../../api/middleware/problem';
import { parseOr422 } from '../../api/middleware/validate';
import { isWorkflowGone, temporalProblem } from '../../api/temporal';
import { partnerCaseView, type TaskRow } from '../../api/views';
import { CASE_ID_RE } from '../../domain/ids';
import { CaseInputSchema } from '../../domain/schemas';
import type { CaseView } from '../../domain/types';
import { problemOf } from '../support/problems';


describe('ids and tokens', () => {
  it('mints case ids matching CASE_ID_RE with 26 base32 characters', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newCaseId();
      expect(id).toMatch(CASE_ID_RE);
      expect(id).toMatch(/^case_[0-9a-v]{26}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(2000);
    expect(newPrincipalId()).toMatch(/^prn_[0-9a-v]{20}$/);
  });

  it('mints tdk_ tokens of 32+ base64url characters and hashes them with sha256', () => {
    const t = generateToken();
    expect(t).toMatch(TOKEN_RE);
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).not.toBe(hashToken(generateToken()));
  });
});

describe('cursors', () => {
  it('round-trips and refuses anything it did not issue', () => {
    const c = encodeCursor(new Date('2026-11-02T09:30:00.123Z'), 'case_abc');
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c)).toEqual({ createdAt: '2026-11-02T09:30:00.123Z', id: 'case_abc' });
    expect(decodeCursor(undefined)).toBeUndefined();
    const bad = ['!!', 'e30', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["x","y"]').toString('base64url'), Buffer.from('["2026-11-02T09:30:00Z","a\\u0000"]').toString('base64url')];
    for (const b of bad) expect(problemOf(() => decodeCursor(b)).kind, b).toBe('validation');
  });
});

describe('Idempotency-Key', () => {
  it('accepts bare and structured-field strings, refuses non-printable or overlong keys', () => {
    expect(idempotencyKeyOf(undefined)).toBeUndefined();
    expect(idempotencyKeyOf('abc-123')).toBe('abc-123');
    expect(idempotencyKeyOf('"8e03978e-40d5"')).toBe('8e03978e-40d5');
    for (const bad of ['', '""', ' lead', 'trail ', 'x'.repeat(256), 'tab\there', 'é']) expect(problemOf(() => idempotencyKeyOf(bad)).kind, bad).toBe('validation');
  });

  it('hashes the canonical JSON: key order does not matter, values do', () => {
    expect(bodyHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(bodyHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(bodyHash({ a: 1 })).not.toBe(bodyHash({ a: 2 }));
    expect(bodyHash({ a: [1, 2] })).not.toBe(bodyHash({ a: [2, 1] }));
  });
});

describe('input checks', () => {
  it('finds excessive nesting iteratively, even far beyond the stack limit', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(inputFault(deep, MAX_JSON_DEPTH)).toEqual({ kind: 'depth' });
    let ok: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH - 1; i++) ok = { a: ok };
    expect(inputFault(ok, MAX_JSON_DEPTH)).toBeNull();
  });

  it('names the path of a NUL or unpaired surrogate, in values and keys', () => {
    expect(inputFault({ merchant: { urls: ['ok', 'a\u0000'] } }, 32)).toEqual({ kind: 'string', path: 'merchant.urls.1' });
    expect(inputFault({ x: '\ud800' }, 32)).toEqual({ kind: 'string', path: 'x' });
    expect(inputFault({ ['k\udc00']: 1 }, 32)).toEqual({ kind: 'string', path: 'k\udc00' });
    expect(inputFault({ emoji: '😀 fine' }, 32)).toBeNull();
  });

  it('maps zod issues to one message per dotted field path, unknown keys included', () => {
    const p = problemOf(() => parseOr422(CaseInputSchema, { reference: '', jurisdiction: 'GB', merchant: { name: 'n', urls: ['nope'], hosting: [{ provider: 'h', urls: ['https://a.test/'] }] }, evidence: [], bogus: 1 }));
    expect(p.kind).toBe('validation');
    expect(p.errors).toMatchObject({ reference: expect.any(String), 'merchant.urls.0': 'must be an absolute http(s) URL', evidence: expect.any(String), bogus: 'is not a known field' });
  });
});

describe('error mapping', () => {
  it('maps body-parser errors by type and never exposes internals', () => {
    expect(mapError(Object.assign(new Error('x'), { status: 400, type: 'entity.parse.failed' })).kind).toBe('bad_request');
    expect(mapError(Object.assign(new Error('x'), { status: 413, type: 'entity.too.large' })).kind).toBe('payload_too_large');
    // No 415: a body in another charset or an unknown Content-Encoding is a body that is not JSON, as the contract says.
    expect(mapError(Object.assign(new Error('x'), { status: 415, type: 'charset.unsupported' })).kind).toBe('bad_request');
    expect(mapError(Object.assign(new Error('x'), { status: 415, type: 'encoding.unsupported' })).kind).toBe('bad_request');
    const internal = mapError(new TypeError('secret internals at foo.ts:12'));
    expect(internal).toEqual({ kind: 'internal', detail: 'internal error' });
  });

  it('maps PostgreSQL outages to 503 and data exceptions to 422, through drizzle wrappers', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(mapError(refused).kind).toBe('unavailable');
    expect(mapError(new Error('Failed query', { cause: refused })).kind).toBe('unavailable');
    const data = Object.assign(new Error('invalid byte sequence'), { code: '22021', severity: 'ERROR' });
    expect(mapError(new Error('Failed query', { cause: data })).kind).toBe('validation');
  });

  it('maps workflow update failures by ApplicationFailure type', () => {
    const fail = (type: string, details: unknown[] = []) => new WorkflowUpdateFailedError('update failed', ApplicationFailure.create({ type, message: `${type} happened`, details }));
    expect(temporalProblem(fail('TaskNotFound'))?.kind).toBe('not_found');
    expect(temporalProblem(fail('TaskNotOpen'))?.kind).toBe('conflict');
    expect(temporalProblem(fail('Forbidden'))?.kind).toBe('forbidden');
    expect(temporalProblem(fail('CaseClosed'))?.kind).toBe('conflict');
    const invalid = temporalProblem(fail('InvalidCompletion', [{ 'data.terminatedAt': 'is required' }]));
    expect(invalid).toEqual({ kind: 'validation', detail: 'InvalidCompletion happened', errors: { 'data.terminatedAt': 'is required' } });
    expect(temporalProblem(fail('SomethingElse'))?.kind).toBe('conflict');
    expect(temporalProblem(new WorkflowNotFoundError('gone', 'wf', undefined))?.kind).toBe('conflict');
    expect(isWorkflowGone(new WorkflowNotFoundError('gone', 'wf', undefined))).toBe(true);
    expect(isWorkflowGone(fail('TaskNotOpen'))).toBe(false);
    expect(temporalProblem(new WorkflowUpdateRPCTimeoutOrCancelledError('timeout'))?.kind).toBe('unavailable');
    expect(temporalProblem(Object.assign(new Error('14 UNAVAILABLE'), { code: 14, details: '', metadata: { get: () => [] } }))?.kind).toBe('unavailable');
    // "Workflow Task in failed state": the case cannot take requests until its worker gets past the failure.
    expect(temporalProblem(Object.assign(new Error('9 FAILED_PRECONDITION'), { code: 9, details: '', metadata: { get: () => [] } }))?.kind).toBe('unavailable');
    expect(temporalProblem(new Error('plain'))).toBeUndefined();
  });
});

describe('partner view', () => {
  const view = {
    id: 'case_x',
    reference: 'R',
    org: 'ceop',
    jurisdiction: 'GB',
    priority: 'high',
    status: 'disrupting',
    createdAt: '2026-11-01T00:00:00.000Z',
    createdBy: 'p1',
    merchant: {
      name: 'Shop',
      descriptor: 'SHOP*',
      legalName: 'Shop Legal Ltd',
      urls: ['https://shop.test/a'],
      paymentChannels: [
        { kind: 'card', scheme: 'visa', acquirer: 'acq-northbank', merchantId: 'M1' },
        { kind: 'card', scheme: 'mastercard', acquirer: 'acq-other', merchantId: 'M2' },
        { kind: 'wallet', provider: 'paypal', accountId: 'PP1' },
      ],
      hosting: [
        { provider: 'host-a', urls: ['https://shop.test/a'] },
        { provider: 'host-b', urls: ['https://mirror.test/b'] },
      ],
    },
    evidence: [{ kind: 'report', sha256: 'f'.repeat(64), description: 'do not show' }],
    steps: [
      { name: 'termination', status: 'in_progress', startedAt: '2026-11-01T00:00:00.000Z', finishedAt: null, taskIds: ['t1', 't-mastercard'] },
      { name: 'hosting', status: 'in_progress', startedAt: '2026-11-01T00:00:00.000Z', finishedAt: null, taskIds: ['t-host-a', 't-host-b'] },
    ],
  } as unknown as CaseView;
  const task = { id: 't1', type: 'confirm_termination', status: 'open', dueAt: null } as unknown as TaskRow;

  it('shows a payment partner its own channels and the shop URLs, nothing of others', () => {
    const v = partnerCaseView(view, 'visa', [task]);
    expect(v.merchant.paymentChannels).toEqual([{ kind: 'card', scheme: 'visa', acquirer: 'acq-northbank', merchantId: 'M1' }]);
    expect(v.merchant.hosting).toEqual([]);
    expect(v.merchant.urls).toEqual(['https://shop.test/a']);
    const text = JSON.stringify(v);
    for (const hidden of ['mastercard', 'paypal', 'host-a', 'do not show', 'Shop Legal Ltd', 'p1']) expect(text).not.toContain(hidden);
    expect(v.tasks).toEqual([{ id: 't1', type: 'confirm_termination', status: 'open', dueAt: null }]);
    expect(v.merchant.descriptor).toBe('SHOP*');
    // Only the steps it holds a task in, and of their task ids only its own: how the others' go is not its to know.
    expect(v.steps.map((s) => [s.name, s.status, s.taskIds])).toEqual([['termination', 'in_progress', ['t1']]]);
  });

  it('shows a host only its hosting entries and their URLs, its own step, and no card descriptor', () => {
    const hostTask = { id: 't-host-b', type: 'confirm_removal', status: 'open', dueAt: null } as unknown as TaskRow;
    const v = partnerCaseView(view, 'host-b', [hostTask]);
    expect(v.merchant.hosting).toEqual([{ provider: 'host-b', urls: ['https://mirror.test/b'] }]);
    expect(v.merchant.urls).toEqual(['https://mirror.test/b']);
    expect(v.merchant.paymentChannels).toEqual([]);
    expect(v.merchant).not.toHaveProperty('descriptor');
    // Not the termination under way: told to the shop's host, it could warn the merchant.
    expect(v.steps.map((s) => [s.name, s.taskIds])).toEqual([['hosting', ['t-host-b']]]);
    expect(JSON.stringify(v)).not.toContain('termination');
  });
});
