// The check every integration answer goes through (test/support/openapi-check.ts): it must refuse what the document does
// not allow, or the harness would pass any drift.
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../api/openapi';
import { NOTICE_TYPES } from '../../domain/types';
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

type Parameter = { name: string; in: string; required?: boolean };
type Schema = { required?: string[]; properties?: Record<string, { enum?: string[]; $ref?: string }> };

describe('the OpenAPI document', () => {
  it('describes the notice Takedown POSTs to partners as a webhook: its four headers, its body, and what each answer does', () => {
    const doc = buildOpenApiDocument() as unknown as {
      webhooks: Record<string, Record<string, { security: unknown[]; parameters: Parameter[]; requestBody: { required: boolean; content: Record<string, { schema: { $ref: string } }> }; responses: Record<string, { description: string }> }>>;
      components: { schemas: Record<string, Schema> };
    };
    const op = doc.webhooks.notice.post;
    // Headers as the notices send them (activities/notices.ts), every one on every attempt.
    const headers = op.parameters.filter((p) => p.in === 'header');
    expect(headers.map((p) => p.name.toLowerCase()).sort()).toEqual(['idempotency-key', 'webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(headers.every((p) => p.required === true)).toBe(true);
    // Signed, not bearer-authenticated: the document-wide bearer requirement does not apply to it.
    expect(op.security).toEqual([]);

    expect(op.requestBody.required).toBe(true);
    const ref = op.requestBody.content['application/json'].schema.$ref;
    const notice = doc.components.schemas[ref.replace('#/components/schemas/', '')];
    expect(notice.required?.slice().sort()).toEqual(['caseId', 'document', 'id', 'org', 'sentAt', 'taskId', 'type']);
    expect(notice.properties?.type.enum).toEqual([...NOTICE_TYPES]);
    // The document is the one partners without a webhook read at GET /v1/tasks/{id}/document.
    const taskDocument = doc.components.schemas.TaskRequestDocument;
    expect(notice.properties?.document.$ref).toBe(taskDocument.properties?.document.$ref);

    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['2XX', '408', '429', '5XX', 'default']));
    expect(op.responses['5XX'].description).toMatch(/Retried/);
    expect(op.responses.default.description).toMatch(/final/);
  });
});
