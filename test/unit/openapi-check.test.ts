// The check every integration answer goes through (test/support/openapi-check.ts): it must refuse what the document does
// not allow, or the harness would pass any drift.
import { describe, expect, it } from 'vitest';
import { openApiMismatch } from '../support/openapi-check';

const head = { caseId: 'case_x', seq: 3, hash: 'a'.repeat(64) };
const json = 'application/json; charset=utf-8';

describe('the OpenAPI answer check', () => {
  it('refuses a status the operation does not declare, a body off its schema, and a success of an operation the document lacks', () => {
    expect(openApiMismatch('GET', '/v1/tasks/tsk_1', 418, json, {})).toMatch(/^GET \/v1\/tasks\/\{id\} answered 418, a status its operation does not declare/);
    expect(openApiMismatch('GET', '/v1/cases/case_x?x=1', 200, json, { id: 7 })).toMatch(/^GET \/v1\/cases\/\{id\} answered 200: the body does not match the document: /);
    expect(openApiMismatch('GET', '/v1/unknown', 200, json, {})).toBe('GET /v1/unknown answered 200, but the document has no such operation');
    expect(openApiMismatch('GET', '/v1/unknown', 404, 'application/problem+json', {})).toBeNull();
    expect(openApiMismatch('GET', '/v1/tasks/tsk_1', 404, 'text/html', '<p>')).toMatch(/answered 404 as text\/html, not as application\/problem\+json/);
  });

  it('takes what the routes really send: a heads check naming a problem, a document whose body cannot be hashed, a 503 on a read', () => {
    expect(openApiMismatch('POST', '/v1/audit/heads/check', 200, json, { intact: false, checked: 1, problems: [{ ...head, storedHash: null, detail: 'gone' }] })).toBeNull();
    const doc = { id: 'doc_1', taskId: null, type: 'hosting_notice', version: '1', createdAt: '2026-11-02T09:30:00.000Z', caseId: 'case_x', sha256: null, recordedSha256: 'b'.repeat(64), intact: false, document: {} };
    expect(openApiMismatch('GET', '/v1/cases/case_x/documents/doc_1', 200, json, doc)).toBeNull();
    const unavailable = { type: 'https://takedown.dev/problems/unavailable', title: 'Service Unavailable', status: 503, detail: 'PostgreSQL is unavailable' };
    expect(openApiMismatch('GET', '/v1/tasks', 503, 'application/problem+json', unavailable)).toBeNull();
  });
});
