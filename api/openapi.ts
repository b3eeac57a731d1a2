// The OpenAPI 3.1 document, generated from the same zod schemas that validate requests, plus response shapes.
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import {
  AddEvidenceSchema,
  AdminEventListQuerySchema,
  AuditExportQuerySchema,
  CaseInputSchema,
  CaseListQuerySchema,
  CaseStatusSchema,
  ChainHeadSchema,
  ChainHeadsCheckSchema,
  ChainHeadsQuerySchema,
  CompleteTaskSchema,
  EvidenceSchema,
  HostingSchema,
  MerchantSchema,
  PartnerPutSchema,
  PlanSchema,
  PrincipalCreateSchema,
  RoleSchema,
  TaskListQuerySchema,
  TaskStatusSchema,
  TaskTypeSchema,
  WithdrawSchema,
  z,
} from '../domain/schemas';
import { NOTICE_TYPES, PARTNER_KINDS, PRIORITIES, REQUEST_NOTICE_TYPES, STEP_NAMES, STEP_STATUSES } from '../domain/types';

const time = z.string().openapi({ format: 'date-time', example: '2026-11-02T09:30:00.000Z' });
const nullableTime = time.nullable();

const Problem = z
  .object({
    type: z.string().openapi({ example: 'https://takedown.dev/problems/validation' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.record(z.string(), z.string()).optional().openapi({ example: { 'merchant.urls.0': 'must be an absolute http(s) URL' } }),
  })
  .openapi('Problem');

const Step = z
  .object({ name: z.enum(STEP_NAMES), status: z.enum(STEP_STATUSES), startedAt: nullableTime, finishedAt: nullableTime, taskIds: z.array(z.string()) })
  .openapi('Step');

/**
 * A stored case's merchant: as created, then amended. Amendments add URLs (to the merchant and its hosting entries) past
 * the 200 a creation may name, up to the case's size bound.
 */
const StoredMerchant = z.strictObject({
  ...MerchantSchema.shape,
  urls: z.array(z.string()),
  hosting: z.array(z.strictObject({ ...HostingSchema.shape, urls: z.array(z.string()).min(1) })),
});

const CaseView = z
  .object({
    id: z.string().openapi({ example: 'case_0k3m5q7s9u1w3y5a7c9e1g3i5k' }),
    reference: z.string(),
    org: z.string(),
    jurisdiction: z.string(),
    priority: z.enum(PRIORITIES),
    status: CaseStatusSchema,
    createdAt: time,
    createdBy: z.string(),
    updatedAt: time,
    closedAt: nullableTime,
    merchant: StoredMerchant,
    evidence: z.array(EvidenceSchema),
    plan: PlanSchema,
    steps: z.array(Step),
    deconflictedWith: z.array(z.string()),
    verifiedBy: z.string().nullable(),
    signedOffBy: z.string().nullable(),
    actionDate: nullableTime,
    withdrawal: z.object({ reason: z.string(), by: z.string(), at: time }).nullable(),
    temporalUrl: z.string().optional().openapi({ description: "The case's workflow in the Temporal UI, when the API knows the UI's address (an extension)" }),
  })
  .openapi('Case');

const PartnerCaseView = z
  .object({
    id: z.string(),
    reference: z.string(),
    org: z.string(),
    jurisdiction: z.string(),
    priority: z.enum(PRIORITIES),
    status: CaseStatusSchema,
    createdAt: time,
    updatedAt: time,
    closedAt: nullableTime,
    steps: z.array(Step).openapi({ description: "Only the steps the partner holds an open task in, each with only the partner's own task ids" }),
    merchant: z.object({
      name: z.string(),
      descriptor: z.string().optional().openapi({ description: 'Only for a partner with a payment channel of the merchant' }),
      urls: z.array(z.string()),
      paymentChannels: z.array(z.record(z.string(), z.unknown())),
      hosting: z.array(z.record(z.string(), z.unknown())),
    }),
    evidence: z.array(z.object({ kind: z.string(), sha256: z.string() })),
    tasks: z.array(z.object({ id: z.string(), type: TaskTypeSchema, status: TaskStatusSchema, dueAt: nullableTime })),
  })
  .openapi('PartnerCase', { description: 'What a partner org holding an open task sees of a case' });

const Task = z
  .object({
    id: z.string(),
    caseId: z.string(),
    type: TaskTypeSchema,
    status: TaskStatusSchema,
    assignee: z.object({ org: z.string(), role: RoleSchema }),
    roles: z.array(RoleSchema).openapi({ description: 'Roles that may act on the task (the assignee role, plus le_supervisor once a sign-off escalates)' }),
    createdAt: time,
    dueAt: nullableTime,
    escalated: z.boolean(),
    completedAt: nullableTime,
    completedBy: z.object({ id: z.string(), org: z.string() }).nullable(),
    outcome: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
    comment: z.string().nullable(),
    context: z.record(z.string(), z.unknown()),
  })
  .openapi('Task');

const page = <T extends z.ZodType>(item: T, name: string) => z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);

const Principal = z
  .object({ id: z.string(), name: z.string(), org: z.string(), roles: z.array(RoleSchema), createdAt: time, createdBy: z.string().nullable(), revokedAt: nullableTime })
  .openapi('Principal');
const PrincipalCreated = Principal.extend({ token: z.string().openapi({ description: 'Shown once; stored only as a hash', example: 'tdk_…' }) }).openapi('PrincipalCreated');

const AdminEvent = z
  .object({
    id: z.string(),
    at: time,
    actor: z.object({ id: z.string(), org: z.string() }),
    action: z.enum(['partner.updated', 'principal.created', 'principal.revoked']),
    subject: z.string().openapi({ description: 'The partner org, or the principal id' }),
    data: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'partner.updated: created, kind, name, webhook {before, after}, each null or {origin, urlSha256} (the SHA-256 of the whole URL, whose path may carry a credential), secretChanged, hasSecret (never a secret); principal.created: name, org, roles; principal.revoked: org' }),
  })
  .openapi('AdminEvent');

const Partner = z
  .object({ org: z.string(), kind: z.enum(PARTNER_KINDS), name: z.string().nullable(), webhookUrl: z.string().nullable(), hasSecret: z.boolean(), previousSecretUntil: time.nullable(), updatedAt: time })
  .openapi('Partner');

const PartnerDirectoryEntry = z
  .object({ org: z.string(), kind: z.enum(PARTNER_KINDS).nullable(), name: z.string().nullable(), receivesNotices: z.boolean(), signsIn: z.boolean() })
  .openapi('PartnerDirectoryEntry');

const AuditEntry = z
  .object({
    seq: z.number().int(),
    at: time,
    actor: z.object({ id: z.string(), org: z.string() }).nullable(),
    action: z.string().openapi({ example: 'task.completed' }),
    data: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi('AuditEntry');

const AuditVerification = z
  .object({
    intact: z.boolean(),
    entries: z.number().int(),
    head: z.string().nullable(),
    firstBadSeq: z.number().int().nullable(),
    // Extensions: what else was found (a chain cut short on a closed case, an archive or a document that no longer
    // matches its entry or is gone), and the first entry the chain itself no longer backs (null when only what an entry
    // records beside the chain, an archive or a document, is wrong: firstBadSeq then names that entry).
    problems: z.array(z.string()),
    entriesBadFrom: z.number().int().nullable(),
  })
  .openapi('AuditVerification');

const History = z
  .object({
    caseId: z.string(),
    workflowId: z.string(),
    source: z.enum(['archive', 'temporal']),
    runs: z.array(
      z.object({
        runId: z.string(),
        archivedAt: time.optional(),
        // Archived runs: SHA-256 of JSON.stringify(history, null, 2) as served, the hash the chain recorded, and whether they agree.
        sha256: z.string().optional(),
        recordedSha256: z.string().nullable().optional(),
        intact: z.boolean().optional(),
        history: z.record(z.string(), z.unknown()),
      }),
    ),
  })
  .openapi('History');

const ChainHeads = z.object({ at: time, heads: z.array(ChainHeadSchema), next: z.string().nullable() }).openapi('ChainHeads');
const HeadsCheck = z
  .object({
    intact: z.boolean(),
    checked: z.number().int(),
    // Spread, not extended: the generator writes an extension of a strict object as allOf of two closed schemas, which
    // no object satisfies.
    problems: z.array(z.strictObject({ ...ChainHeadSchema.shape, storedHash: z.string().nullable(), detail: z.string() })),
  })
  .openapi('HeadsCheck');
const Health = z.object({ status: z.enum(['ok', 'degraded', 'draining', 'starting']), db: z.enum(['ok', 'unavailable']), temporal: z.enum(['ok', 'unavailable']) }).openapi('Health');

const documentFields = { id: z.string(), taskId: z.string().nullable(), type: z.string(), version: z.string(), createdAt: time };
const DocumentSummary = z.object({ ...documentFields, sha256: z.string() }).openapi('DocumentSummary');
// Not an extension of DocumentSummary: the generator would write allOf, and its sha256 (a string) would refuse the null here.
const NoticeDocument = z.object({
  ...documentFields,
  caseId: z.string(),
  // SHA-256 of the RFC 8785 canonical JSON of `document`, recomputed (null when the stored body cannot be hashed at
  // all: a number past JSON's range, set by hand; intact is then false); the hash the audit chain's document.rendered recorded.
  sha256: z.string().nullable(),
  recordedSha256: z.string().nullable(),
  intact: z.boolean(),
  document: z.record(z.string(), z.unknown()),
}).openapi('NoticeDocument');

/**
 * What every document sent to a partner starts with (activities/documents/common.ts, header); each type adds its own
 * members after it (docs/partner-integration.md lists them), which the schema leaves open.
 */
const PartnerDocument = z
  .object({
    documentType: z.enum(NOTICE_TYPES),
    documentVersion: z.string().openapi({ example: '1.0' }),
    title: z.string(),
    issuedAt: time,
    case: z.object({ id: z.string(), reference: z.string(), jurisdiction: z.string(), priority: z.enum(PRIORITIES) }),
    issuer: z.object({ org: z.string() }),
    recipient: z.object({ org: z.string() }),
    taskId: z.string().nullable(),
    dueAt: nullableTime,
  })
  .openapi('PartnerDocument', { description: "A notice's document: the request itself (or the reminder or withdrawal), known by the SHA-256 of its RFC 8785 canonical JSON, which the case's audit chain records (document.rendered); the same document in the notice and in GET /v1/tasks/{id}/document" });

const TaskRequestDocument = z
  .object({
    noticeId: z.string().openapi({ description: "The request notice: its `id`, `webhook-id` and `Idempotency-Key` when it is sent to a webhook", example: 'ntc_tsk_5b0fc920e357468bacf3b9aa1d289183_termination_request_0' }),
    documentId: z.string().openapi({ description: 'The document as GET /v1/cases/{id}/documents/{documentId} and the audit chain name it' }),
    caseId: z.string(),
    taskId: z.string(),
    type: z.enum(REQUEST_NOTICE_TYPES),
    version: z.string(),
    documentHash: z.string().openapi({ description: "SHA-256 (hex) of the RFC 8785 canonical JSON of `document`, as the audit chain's document.rendered entry recorded it (the stored one should that entry be missing: then `intact` is false)" }),
    intact: z.boolean().openapi({ description: "Whether `document` hashes, now, to the hash its document.rendered entry recorded and the one stored beside it" }),
    renderedAt: time.openapi({ description: "When the request was prepared: the same instant as its notice's `sentAt`" }),
    document: PartnerDocument,
  })
  .openapi('TaskRequestDocument', { description: "The latest request notice's document on a partner task (an extension)" });

/**
 * The body of a notice POSTed to a partner's webhook (activities/notices.ts, sendNotice): the same bytes in every
 * attempt, so an idempotency middleware takes a retry for the request it already has.
 */
const Notice = z
  .object({
    id: z.string().openapi({ description: 'The notice id: the `webhook-id` and `Idempotency-Key` headers, the same in every retry', example: 'ntc_tsk_5b0fc920e357468bacf3b9aa1d289183_freeze_request_0' }),
    type: z.enum(NOTICE_TYPES),
    caseId: z.string(),
    taskId: z.string().nullable().openapi({ description: 'The task to complete (for a reminder, the task reminded of; for a withdrawal notice, the one task withdrawn on its own, else null)' }),
    org: z.string().openapi({ description: "The recipient org (the partner's own)", example: 'acq-northbank' }),
    document: PartnerDocument,
    sentAt: time.openapi({ description: 'When the notice was issued (prepared): identical in every retry; an attempt\'s own time is the webhook-timestamp header' }),
    auditHead: z
      .object({ seq: z.number().int().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/) })
      .optional()
      .openapi({
        description:
          "An extension: an entry of the case's audit chain (its seq and hash), the newest committed when the notice was prepared, the same in every retry. Keep it: with the case id it is a head an auditor checks the chain against (docs/audit-verification.md). Absent when the chain was empty, and in notices prepared before it existed",
      }),
  })
  .openapi('Notice');

/** The headers of every notice attempt: Standard Webhooks', and Idempotency-Key for partners' generic middleware. */
const NoticeHeaders = z.object({
  'webhook-id': z.string().openapi({ description: 'The notice id, the same for every retry of the notice', example: 'ntc_tsk_5b0fc920e357468bacf3b9aa1d289183_freeze_request_0' }),
  'webhook-timestamp': z
    .string()
    .regex(/^[0-9]+$/)
    .openapi({ description: "This attempt's time, in unix seconds (covered by the signature; refuse one far from your clock)", example: '1795618260' }),
  'webhook-signature': z.string().openapi({
    description:
      'Space-separated `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>">`, keyed with the base64-decoded part of the secret after `whsec_`; one per secret still signing (two or more for a day after a rotation): accept the notice when one verifies',
    example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  }),
  'idempotency-key': z.string().openapi({ description: 'The notice id again (as webhook-id), for generic Idempotency-Key middleware' }),
});

const CaseIdParams = z.object({ id: z.string().openapi({ example: 'case_0k3m5q7s9u1w3y5a7c9e1g3i5k' }) });
const IdParams = z.object({ id: z.string() });
const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().optional().openapi({ description: 'IETF Idempotency-Key: a retry with the same key and body returns the first result' }),
});

const InboxConditionalHeaders = z.object({
  'if-none-match': z
    .string()
    .optional()
    .openapi({ description: 'An ETag of an earlier answer to the same request: while the page is unchanged the answer is 304 with no body (an extension for polling clients)' }),
});
const InboxEtagHeader = {
  ETag: {
    description: "A strong validator of the answer's bytes, the same from every API process: send it back as If-None-Match",
    schema: { type: 'string' as const, example: '"3q2-7wUJvBq_9R1cHs0e8A"' },
  },
};

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: Problem } } });
const body = (schema: z.ZodType) => ({ body: { required: true, content: { 'application/json': { schema } } } });

const unauthorized = {
  ...problem('No token, or an unknown or revoked one'),
  headers: { 'WWW-Authenticate': { description: 'Always `Bearer` (RFC 6750)', schema: { type: 'string' as const, example: 'Bearer' } } },
};

const common = {
  401: unauthorized,
  403: problem('A role, org or four-eyes rule forbids it'),
  400: problem('The body is empty, or not JSON in valid UTF-8 (or UTF-16/32), uncompressed or gzip/deflate/br; or a path segment is not valid percent-encoding'),
  413: problem('The body is over 1 MiB'),
  422: problem('Fields fail validation (each in `errors`)'),
  503: problem('PostgreSQL or Temporal is unavailable'),
};

export function buildOpenApiDocument(opts: { serverUrl?: string } = {}) {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An admin token or a principal token (tdk_…)' });
  const security = [{ [bearer.name]: [] }];

  registry.registerPath({
    method: 'post',
    path: '/v1/principals',
    summary: 'Create a principal and its token (admin)',
    tags: ['principals'],
    security,
    request: {
      headers: z.object({
        'idempotency-key': z.string().optional().openapi({
          description: 'IETF Idempotency-Key (an extension): a repeat with the same key and body creates nothing, and answers 409 naming the principal the first made (`principalId`), since its token is shown only once',
        }),
      }),
      ...body(PrincipalCreateSchema),
    },
    responses: {
      201: json(PrincipalCreated, 'Created; the token is shown only now'),
      ...common,
      409: problem('This Idempotency-Key already created a principal (`principalId`): revoke it and create another if its token was lost'),
      422: problem('Fields fail validation (each in `errors`), or the Idempotency-Key was used with another body'),
    },
  });
  registry.registerPath({ method: 'get', path: '/v1/principals', summary: 'List principals without tokens (admin)', tags: ['principals'], security, responses: { 200: json(z.object({ items: z.array(Principal) }), 'Principals'), 401: common[401], 403: common[403] } });
  registry.registerPath({ method: 'get', path: '/v1/principals/{id}', summary: 'Read a principal (admin; an auditor too, to name an audit entry\'s actor)', tags: ['principals'], security, request: { params: IdParams }, responses: { 200: json(Principal, 'The principal'), 401: common[401], 403: common[403], 404: problem('Unknown principal') } });
  registry.registerPath({ method: 'delete', path: '/v1/principals/{id}', summary: 'Revoke a principal (admin); effective at once', tags: ['principals'], security, request: { params: IdParams }, responses: { 204: { description: 'Revoked' }, 401: common[401], 403: common[403], 404: problem('Unknown principal') } });

  registry.registerPath({
    method: 'get',
    path: '/v1/admin/events',
    summary: 'What admins changed outside any case, newest first (admin, auditor): partner webhooks and secrets, principals created and revoked; append-only',
    tags: ['admin'],
    security,
    request: { query: AdminEventListQuerySchema },
    responses: { 200: json(z.object({ items: z.array(AdminEvent), nextCursor: z.string().nullable() }), 'A page of admin events'), 401: common[401], 403: common[403], 422: common[422] },
  });

  registry.registerPath({
    method: 'put',
    path: '/v1/partners/{org}',
    summary: 'Register a partner org and its webhook (admin)',
    tags: ['partners'],
    security,
    request: { params: z.object({ org: z.string().openapi({ example: 'visa' }) }), ...body(PartnerPutSchema) },
    responses: { 200: json(Partner, 'Stored (secret never shown)'), ...common },
  });
  registry.registerPath({ method: 'get', path: '/v1/partners', summary: 'List partner orgs without secrets (admin)', tags: ['partners'], security, responses: { 200: json(z.object({ items: z.array(Partner) }), 'Partners'), 401: common[401], 403: common[403] } });
  registry.registerPath({
    method: 'get',
    path: '/v1/partner-directory',
    summary: 'The partner orgs a case may name: whether notices can reach them and whether someone there signs in (case readers, admin); no URLs or secrets',
    tags: ['partners'],
    security,
    responses: { 200: json(z.object({ items: z.array(PartnerDirectoryEntry) }), 'Partner directory'), 401: common[401], 403: common[403] },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/cases',
    summary: 'Open a case (case_lead); answers once intake is recorded',
    tags: ['cases'],
    security,
    request: { headers: IdempotencyHeaders, ...body(CaseInputSchema) },
    responses: {
      201: json(CaseView, 'Created'),
      200: json(CaseView, 'The case an earlier request with this Idempotency-Key and body created'),
      409: problem('A request with this Idempotency-Key is still in flight'),
      ...common,
      422: problem('Fields fail validation, or the Idempotency-Key was used with another body'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cases',
    summary: "List cases of the caller's org, newest first (auditors: every org)",
    tags: ['cases'],
    security,
    request: { query: CaseListQuerySchema },
    responses: { 200: json(page(CaseView, 'CasePage').extend({ counts: z.record(z.string(), z.number().int()) }), 'A page of cases, with counts per status over the whole scope'), 401: common[401], 403: common[403], 422: common[422] },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cases/{id}',
    summary: 'Read a case (partners: only while holding an open task, restricted view)',
    tags: ['cases'],
    security,
    request: { params: CaseIdParams },
    responses: { 200: json(z.union([CaseView, PartnerCaseView]), 'The case'), 401: common[401], 403: common[403], 404: problem('Unknown case') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/cases/{id}/withdraw',
    summary: "Withdraw a case (case_lead or le_supervisor of the case's org)",
    tags: ['cases'],
    security,
    request: { params: CaseIdParams, headers: IdempotencyHeaders, ...body(WithdrawSchema) },
    responses: { 202: json(CaseView, 'Withdrawal accepted; open tasks are cancelled and partners notified'), 404: problem('Unknown case'), 409: problem('The case is closed'), ...common },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/cases/{id}/evidence',
    summary: "Add evidence items or URLs (case_lead of the case's org)",
    tags: ['cases'],
    security,
    request: { params: CaseIdParams, headers: IdempotencyHeaders, ...body(AddEvidenceSchema) },
    responses: { 200: json(CaseView, 'The updated case'), 404: problem('Unknown case'), 409: problem('The case is closed'), ...common },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/tasks',
    summary: "The caller's inbox: tasks of its org that one of its roles may act on, oldest first (open ones unless `status` asks for others)",
    tags: ['tasks'],
    security,
    request: { query: TaskListQuerySchema, headers: InboxConditionalHeaders },
    responses: {
      200: { ...json(page(Task, 'TaskPage'), 'A page of tasks'), headers: InboxEtagHeader },
      304: { description: 'Not Modified: the page is still the one If-None-Match names (no body; an extension for polling clients)', headers: InboxEtagHeader },
      401: common[401],
      422: common[422],
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cases/{id}/tasks',
    summary: "Every task of a case, oldest first (readers of the case's org and auditors; partners: their own org's tasks while one is open)",
    tags: ['cases'],
    security,
    request: { params: CaseIdParams },
    responses: { 200: json(z.object({ items: z.array(Task) }), 'The tasks'), 401: common[401], 403: common[403], 404: problem('Unknown case') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/me',
    summary: 'The calling principal: id, name, org and roles',
    tags: ['principals'],
    security,
    responses: { 200: json(z.object({ id: z.string(), name: z.string(), org: z.string(), roles: z.array(z.string()) }), 'The caller'), 401: common[401] },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}',
    summary: "Read a task (its assignee, or readers of the case's org)",
    tags: ['tasks'],
    security,
    request: { params: IdParams },
    responses: { 200: json(Task, 'The task'), 401: common[401], 403: common[403], 404: problem('Unknown task') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}/document',
    summary:
      "The formal request of a partner task: the latest request notice's document, whether or not the org has a webhook (the task's partner org while the task is open or after it completed it; case_lead of the case's org; auditor)",
    tags: ['tasks'],
    security,
    request: { params: IdParams },
    responses: {
      200: json(TaskRequestDocument, 'The document, with the hash the audit chain recorded for it'),
      401: common[401],
      403: problem("The caller may not read the task (as GET /v1/tasks/{id} answers), is not among the document's readers, or is a partner whose task was cancelled"),
      404: problem('Unknown task; a task with no document (an internal task); or a partner task whose request is not prepared yet'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks/{id}/complete',
    summary: 'Complete a task; answers once the workflow has accepted it',
    tags: ['tasks'],
    security,
    request: { params: IdParams, headers: IdempotencyHeaders, ...body(CompleteTaskSchema) },
    responses: { 200: json(Task, 'The completed task'), 404: problem('Unknown task'), 409: problem('Task no longer open'), ...common },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/cases/{id}/audit',
    summary: "The case's audit hash chain (auditor; case_lead of the case's org)",
    tags: ['audit'],
    security,
    request: { params: CaseIdParams },
    responses: { 200: json(z.object({ caseId: z.string(), entries: z.array(AuditEntry) }), 'Entries in seq order'), 401: common[401], 403: common[403], 404: problem('Unknown case') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cases/{id}/audit/verify',
    summary: 'Recompute the chain (auditor)',
    tags: ['audit'],
    security,
    request: { params: CaseIdParams },
    responses: { 200: json(AuditVerification, 'Verification result'), 401: common[401], 403: common[403], 404: problem('Unknown case') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cases/{id}/documents',
    summary: "The documents sent to partners on the case, with their hashes (auditor; case_lead of the case's org)",
    tags: ['audit'],
    security,
    request: { params: CaseIdParams },
    responses: { 200: json(z.object({ caseId: z.string(), items: z.array(DocumentSummary) }), 'Oldest first'), 401: common[401], 403: common[403], 404: problem('Unknown case') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cases/{id}/documents/{documentId}',
    summary: 'One document as partners received it, its hash recomputed and checked against the audit chain (auditor; case_lead of the case\'s org)',
    tags: ['audit'],
    security,
    request: { params: CaseIdParams.extend({ documentId: z.string() }) },
    responses: { 200: json(NoticeDocument, 'The document'), 401: common[401], 403: common[403], 404: problem('Unknown case or document') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cases/{id}/history',
    summary: "The case workflow's Temporal event history, from the archive once closed (auditor)",
    tags: ['audit'],
    security,
    request: { params: CaseIdParams },
    responses: { 200: json(History, 'Every run, oldest first'), 401: common[401], 403: common[403], 404: problem('Unknown case'), 503: common[503] },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/audit/export',
    summary: 'Every audit entry with from <= at < to, as NDJSON (auditor); or, with since (an extension), every entry written from since up to the Audit-Recorded-Before header',
    tags: ['audit'],
    security,
    request: { query: AuditExportQuerySchema },
    responses: {
      200: {
        description: 'One AuditEntry (with caseId; with since, also recordedAt) per line',
        headers: {
          'Audit-Recorded-Before': {
            description: 'With since only: where this export stopped, the next call’s since (a time, or `beginning`). Every entry written before it is in this export or an earlier one.',
            // `beginning` when nothing has been written yet that this export could stop after.
            schema: { type: 'string', example: '2026-11-02T09:30:00.000000Z' },
          },
        },
        content: { 'application/x-ndjson': { schema: AuditEntry.extend({ caseId: z.string(), recordedAt: z.string().nullable().optional() }) } },
      },
      401: common[401],
      403: common[403],
      422: common[422],
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/audit/heads',
    summary: "Every audit chain's newest entry, by case id, to keep outside Takedown as an anchor (auditor)",
    tags: ['audit'],
    security,
    request: { query: ChainHeadsQuerySchema },
    responses: { 200: json(ChainHeads, 'One page of heads. `next` is the `after` of the next page; it is null when this page was not full (a full last page is followed by an empty one). `at` is when the listing began: every entry committed before it is at or behind one of the heads'), 401: common[401], 403: common[403], 422: common[422] },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/audit/heads/check',
    summary: 'Check heads kept earlier: every chain must still hold each head, and verify from its first entry to its newest (auditor)',
    tags: ['audit'],
    security,
    request: body(ChainHeadsCheckSchema),
    responses: { 200: json(HeadsCheck, 'The outcome; intact is false when any problem is listed'), ...common },
  });

  registry.registerPath({ method: 'get', path: '/healthz', summary: 'Readiness: the API and its dependencies (PostgreSQL, Temporal) answer', tags: ['operations'], security: [], responses: { 200: json(Health, 'All parts answer'), 503: json(Health, 'A part does not answer (degraded), the process is shutting down (draining), or its worker is not up yet (starting)') } });
  registry.registerPath({ method: 'get', path: '/livez', summary: 'Liveness: the process answers, whatever its dependencies do', tags: ['operations'], security: [], responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive') } });
  registry.registerPath({ method: 'get', path: '/openapi.json', summary: 'This document', tags: ['operations'], security: [], responses: { 200: { description: 'OpenAPI 3.1 document' } } });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (admin or auditor)',
    tags: ['operations'],
    security,
    responses: { 200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: z.string() } } }, 401: common[401], 403: common[403] },
  });

  // What Takedown sends rather than serves: the notice a partner's webhook takes (OpenAPI 3.1 `webhooks`), and what each
  // answer makes of its delivery (activities/notices.ts, classifyStatus). No bearer token: the signature authenticates it.
  registry.registerWebhook({
    method: 'post',
    path: 'notice',
    summary: "A notice to a partner org's registered webhookUrl, signed as Standard Webhooks specifies",
    description:
      "Sent when Takedown needs something of a partner org that has a webhook (an org without one finds its tasks in GET /v1/tasks and each request's document at GET /v1/tasks/{id}/document). Every attempt of a notice carries the same body, byte for byte; only webhook-timestamp and webhook-signature are the attempt's own. Delivery is at least once: act once per notice id (and once per taskId).",
    tags: ['notices'],
    security: [],
    request: { headers: NoticeHeaders, body: { required: true, content: { 'application/json': { schema: Notice } } } },
    responses: {
      '2XX': { description: 'Delivered (recorded as notice.sent); answer as soon as the notice is stored, and complete the task through the API later. A repeat of a notice already taken must be answered 2xx too' },
      408: { description: 'Retried, as for 5xx' },
      429: { description: 'Retried, as for 5xx (Retry-After is not read)' },
      '5XX': { description: 'Retried with the same notice id and body: exponential backoff from 1 s up to 10 min between attempts, for up to 7 days, durably (a restart loses none); so are timeouts (10 s by default) and refused or reset connections. When the last attempt fails too, the notice ends failed and the case lead decides, as for a final answer' },
      default: { description: 'Any other status (another 4xx, such as 401 for a bad signature; or a redirect, never followed with a signed body) is final: no more attempts, and the case lead gets a resolve_exception task (retry with a new notice, skip, or abort)' },
    },
  });

  const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Takedown orchestrator API',
      version: '1.0.0',
      description: 'Merchant takedowns for a coalition of police, card schemes, banks, payment providers and hosts.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: opts.serverUrl ? [{ url: opts.serverUrl }] : undefined,
    security,
  });
  // Every /v1 operation may answer 429 when the caller's principal is over its limit, or its address over its failed
  // authentications (api/middleware/rate-limit.ts).
  // Added after generation, so the body points at the generated Problem component rather than at a zod schema.
  const rateLimited = {
    description: 'Over the requests per minute of this principal, or the failed authentications per minute of this address; see Retry-After',
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    headers: { 'Retry-After': { description: 'Seconds until the window resets', schema: { type: 'integer' } } },
  };
  const problemRef = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
  // What any request may be answered before its route reads it (api/app.ts, api/middleware/body.ts, api/problem.ts):
  // a body that cannot be read, or a path segment that is not valid percent-encoding (400); a body over 1 MiB (413); a
  // query or header value no field may hold, such as a NUL (422). And for every /v1 operation, an unavailable
  // PostgreSQL (authentication reads it) or Temporal (503, with Retry-After).
  const unreadable = problemRef('The body is not JSON in valid UTF-8 (or UTF-16/32), uncompressed or gzip/deflate/br; or a path segment is not valid percent-encoding');
  const tooLarge = problemRef('The body is over 1 MiB');
  const invalid = problemRef('Fields, query parameters or headers fail validation (each in `errors`)');
  const unavailable = {
    ...problemRef('PostgreSQL or Temporal is unavailable; retry after Retry-After'),
    headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } },
  };
  for (const [route, item] of Object.entries(doc.paths ?? {})) {
    const v1 = route.startsWith('/v1/');
    for (const op of Object.values(item ?? {})) {
      const responses = (op as { responses?: Record<string, unknown> }).responses;
      if (!responses) continue;
      responses['400'] ??= unreadable;
      responses['413'] ??= tooLarge;
      if (v1 || route === '/metrics') responses['429'] ??= rateLimited;
      if (!v1) continue;
      responses['422'] ??= invalid;
      responses['503'] = unavailable;
    }
  }
  return doc;
}
