// zod schemas for everything that crosses the edges (HTTP bodies, queries); the OpenAPI document is generated from them.
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { parseDuration } from './rules/duration';
import { conflictingEvidence, uniqueEvidence } from './rules/evidence';
import { DEFAULT_SLAS, urlHost } from './rules/plan';
import { exportBoundMillis, isFullDate, isStorableRfc3339, toUtc } from './rules/tasks';
import { textProblem, type TextRuleOptions } from './rules/text';
import { hasUnsafeUrlCharacters, UNSAFE_URL_MESSAGE } from './rules/urls';
import {
  CASE_STATUSES,
  EVIDENCE_KINDS,
  PARTNER_KINDS,
  PRIORITIES,
  ROLES,
  TASK_STATUSES,
  TASK_TYPES,
} from './types';

extendZodWithOpenApi(z);

// Plain words for zod's validation issues, the ones a 422 shows beside a field ("Reference is required"), instead of
// zod's own ("Too small: expected string to have >=1 characters"). A message a schema gives itself still wins.
const A = (noun: string) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);
const plural = (n: number | bigint, one: string, many: string) => `${n} ${Number(n) === 1 ? one : many}`;

/** A message for an issue, or undefined to leave zod's. */
function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${A(issue.expected === 'array' ? 'list' : issue.expected)}`;
    case 'too_small':
      if (issue.origin === 'string') return Number(issue.minimum) <= 1 ? 'is required' : `must be at least ${plural(issue.minimum, 'character', 'characters')}`;
      if (issue.origin === 'array' || issue.origin === 'set') return Number(issue.minimum) <= 1 ? 'needs at least one item' : `needs at least ${plural(issue.minimum, 'item', 'items')}`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${plural(issue.maximum, 'character', 'characters')}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `takes at most ${plural(issue.maximum, 'item', 'items')}`;
      return `must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return undefined;
  }
}

z.config({ customError: plainMessage });

/**
 * A short text people type: trimmed, then refused (never rewritten) for control characters, bidirectional-text controls
 * or nothing visible (see textProblem). `multiLine` takes line breaks and tabs (reasons, descriptions, addresses).
 */
const shortText = (max = 200, options: TextRuleOptions = {}) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .superRefine((value, ctx) => {
      const problem = textProblem(value, options);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    });
const multiLineText = (max: number) => shortText(max, { multiLine: true });
const orgId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a short lower-case id such as visa or acq-northbank')
  .openapi({ example: 'visa' });
/** The longest host a URL may name: the longest DNS name (RFC 1035 section 2.3.4). */
export const MAX_URL_HOST_CHARS = 253;
// A URL with characters URL parsing would drop or encode is refused, so what is stored is what gets contacted.
const httpUrl = z
  .string()
  .max(2048)
  .refine((u) => !hasUnsafeUrlCharacters(u), UNSAFE_URL_MESSAGE)
  .refine((u) => {
    if (!/^https?:\/\//i.test(u) || urlHost(u) === null) return false;
    try {
      new URL(u);
      return true;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL')
  // No DNS name is longer; and each host is a key of the index deconfliction searches (cases.hosts), where one of
  // thousands of bytes (2,000 characters outside ASCII) fails every write of the case, its creation included.
  .refine((u) => (urlHost(u)?.length ?? 0) <= MAX_URL_HOST_CHARS, `must name a host of at most ${MAX_URL_HOST_CHARS} characters`);
// Kept in UTC, as the contract's times are: one given with an offset is stored as the same instant in UTC.
// Within years 0001-9999 in UTC (the instant, whatever the offset), so the UTC form always exists.
const dateTime = z
  .string()
  .refine(isStorableRfc3339, 'must be an RFC 3339 date-time with a day that exists, in years 0001-9999')
  .transform(toUtc)
  .openapi({ format: 'date-time' });
/** A date-time compared with timestamptz columns in PostgreSQL: it must also lie in years 0001-9999 (UTC). */
const storableDateTime = z
  .string()
  .refine(isStorableRfc3339, 'must be an RFC 3339 date-time with a day that exists, in years 0001-9999')
  .openapi({ format: 'date-time' });
const fullDate = z.string().refine(isFullDate, 'must be a date such as 2024-03-01, with a day that exists').openapi({ format: 'date' });
const duration = z
  .string()
  .refine((d) => parseDuration(d) !== null, 'must be a duration from 1ms to 366d, such as 72h, 10d, 3s or 500ms')
  .openapi({ example: '72h' });

export const RoleSchema = z.enum(ROLES);
export const CaseStatusSchema = z.enum(CASE_STATUSES);
export const TaskTypeSchema = z.enum(TASK_TYPES);
export const TaskStatusSchema = z.enum(TASK_STATUSES);

export const CardChannelSchema = z
  .object({
    kind: z.literal('card'),
    scheme: orgId,
    acquirer: orgId,
    merchantId: shortText(64),
    mcc: z.string().regex(/^\d{4}$/).optional(),
  })
  .strict();
export const WalletChannelSchema = z.object({ kind: z.literal('wallet'), provider: orgId, accountId: shortText(128) }).strict();
export const PaymentChannelSchema = z.discriminatedUnion('kind', [CardChannelSchema, WalletChannelSchema]);

export const HostingSchema = z
  .object({
    provider: orgId,
    ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    urls: z.array(httpUrl).min(1).max(200),
  })
  .strict();

export const PrincipalOwnerSchema = z
  .object({ name: shortText(200), role: shortText(100).optional(), address: multiLineText(500).optional(), nationalId: shortText(64).optional() })
  .strict();

export const MerchantSchema = z
  .object({
    name: shortText(200),
    descriptor: shortText(64).optional(),
    legalName: shortText(200).optional(),
    address: multiLineText(500).optional(),
    country: z.string().regex(/^[A-Z]{2}$/).optional(),
    phone: shortText(40).optional(),
    taxIds: z.array(shortText(64)).max(10).optional(),
    dateOpened: fullDate.optional(),
    principals: z.array(PrincipalOwnerSchema).max(5).optional(),
    urls: z.array(httpUrl).max(200).default([]),
    paymentChannels: z.array(PaymentChannelSchema).max(50).default([]),
    hosting: z.array(HostingSchema).max(50).default([]),
  })
  .strict()
  .refine((m) => m.paymentChannels.length + m.hosting.length > 0, {
    message: 'a merchant needs at least one payment channel or hosting entry to disrupt',
    path: ['paymentChannels'],
  });

export const EvidenceSchema = z
  .object({
    kind: z.enum(EVIDENCE_KINDS),
    // Hex in either case; kept lower-case, so the same hash given twice is one evidence item.
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters')
      .transform((h) => h.toLowerCase()),
    description: multiLineText(2000).optional(),
    collectedAt: dateTime.optional(),
    collectedBy: shortText(200).optional(),
  })
  .strict();

/**
 * A request's evidence items: the same hash twice is one item, so an exact repeat is dropped, and the same hash with
 * other details is refused (422) rather than one of them kept silently.
 */
const evidenceList = (min: number) =>
  z
    .array(EvidenceSchema)
    .min(min)
    .max(500)
    .superRefine((items, ctx) => {
      for (const c of conflictingEvidence(items)) {
        ctx.addIssue({ code: 'custom', path: [c.index, 'sha256'], message: `the same hash as evidence.${c.earlier} with other details` });
      }
    })
    .transform((items) => uniqueEvidence(items));

export const SlasSchema = z
  .object({
    verification: duration.default(DEFAULT_SLAS.verification),
    signoff: duration.default(DEFAULT_SLAS.signoff),
    termination: duration.default(DEFAULT_SLAS.termination),
    freeze: duration.default(DEFAULT_SLAS.freeze),
    removal: duration.default(DEFAULT_SLAS.removal),
  })
  .strict();

export const PlanSchema = z
  .object({
    freezeAssets: z.boolean().default(true),
    slas: SlasSchema.default(DEFAULT_SLAS),
  })
  .strict();

export const CaseInputSchema = z
  .object({
    reference: shortText(64).openapi({ example: 'EFC-2026-0042' }),
    jurisdiction: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code').openapi({ example: 'GB' }),
    priority: z.enum(PRIORITIES).default('normal'),
    merchant: MerchantSchema,
    evidence: evidenceList(1),
    plan: PlanSchema.default({ freezeAssets: true, slas: DEFAULT_SLAS }),
  })
  .strict()
  .openapi('CaseInput');

export const AddEvidenceSchema = z
  .object({
    evidence: evidenceList(0).default([]),
    urls: z.array(httpUrl).max(200).default([]),
    // Where new URLs are hosted: joins the provider's hosting entry (or adds one, before the hosting step is planned).
    hosting: z.array(HostingSchema).max(50).default([]),
  })
  .strict()
  .refine((b) => b.evidence.length + b.urls.length + b.hosting.length > 0, { message: 'add at least one evidence item, URL or hosting entry', path: ['evidence'] })
  .openapi('AddEvidence');

export const WithdrawSchema = z.object({ reason: multiLineText(2000) }).strict().openapi('Withdraw');

export const CompleteTaskSchema = z
  .object({
    outcome: shortText(40),
    data: z.record(z.string(), z.unknown()).default({}),
    // Kept as written; blank counts as none (an outcome that needs a comment then says so). Otherwise the rules of any
    // text people type: an invisible comment, control characters or bidirectional-text controls are refused.
    comment: z
      .string()
      .max(4000)
      .superRefine((value, ctx) => {
        const problem = value.trim() === '' ? null : textProblem(value, { multiLine: true });
        if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
      })
      .optional(),
  })
  .strict()
  .refine((b) => JSON.stringify(b.data).length <= 16_384, { message: 'data is limited to 16 KiB', path: ['data'] })
  .openapi('CompleteTask');

export const PrincipalCreateSchema = z
  .object({ name: shortText(200), org: orgId, roles: z.array(RoleSchema).min(1).max(ROLES.length) })
  .strict()
  .openapi('PrincipalCreate');

export const WEBHOOK_SECRET_RE = /^whsec_([A-Za-z0-9+/]+={0,2})$/;
export function webhookSecretBytes(secret: string): number | null {
  const m = WEBHOOK_SECRET_RE.exec(secret);
  if (!m || m[1].length % 4 !== 0) return null;
  const pad = m[1].endsWith('==') ? 2 : m[1].endsWith('=') ? 1 : 0;
  return (m[1].length / 4) * 3 - pad;
}

export const PartnerPutSchema = z
  .object({
    kind: z.enum(PARTNER_KINDS),
    // No user name or password in it: listings show the URL, and the secret is what authenticates a notice.
    webhookUrl: httpUrl.refine((u) => !/^https?:\/\/[^/?#]*@/i.test(u), 'must not carry a user name or password').optional(),
    secret: z
      .string()
      .refine((s) => {
        const n = webhookSecretBytes(s);
        return n !== null && n >= 24 && n <= 64;
      }, 'must be whsec_ followed by the base64 of 24 to 64 random bytes')
      .optional(),
    name: shortText(200).optional(),
  })
  .strict()
  .refine((p) => (p.webhookUrl === undefined) === (p.secret === undefined), {
    message: 'webhookUrl and secret go together',
    path: ['secret'],
  })
  .openapi('PartnerPut');

/** Page sizes: plain decimal digits only (no sign, blanks, hex, exponent or fraction), 1 to max. */
const pageSize = (max: number, byDefault: number) => {
  const message = `must be a whole number from 1 to ${max}, in decimal digits`;
  return z
    .string({ error: message })
    .regex(/^\d{1,9}$/, message)
    .transform(Number)
    .pipe(z.number().int().min(1, message).max(max, message))
    .optional()
    .transform((n) => n ?? byDefault)
    .openapi({ type: 'integer', minimum: 1, maximum: max, default: byDefault });
};
const limit = pageSize(200, 50);
const cursor = z.string().max(200).optional();

export const CaseListQuerySchema = z
  .object({ status: CaseStatusSchema.optional(), reference: z.string().max(64).optional(), merchantId: z.string().max(128).optional(), limit, cursor })
  .strict();

/** GET /v1/admin/events: newest first, a page at a time. */
export const AdminEventListQuerySchema = z.object({ limit, cursor }).strict();

export const TaskListQuerySchema = z
  .object({
    // The inbox lists what the caller may act on: open tasks, unless another status is asked for.
    status: TaskStatusSchema.default('open'),
    caseId: z.string().max(64).optional(),
    type: TaskTypeSchema.optional(),
    // Extension: `due` lists the soonest deadline first (tasks without one last); the contract's order is oldest first.
    sort: z.enum(['created', 'due']).default('created'),
    limit,
    cursor,
  })
  .strict();

export const AuditExportQuerySchema = z
  .object({
    from: storableDateTime.optional(),
    to: storableDateTime.optional(),
    // Extension: entries by when they were written, for incremental exports that never miss a late one (see exportRecorded).
    since: z
      .union([z.literal('beginning'), storableDateTime.refine((t) => !/\.\d{7,}/.test(t), 'must not be finer than microseconds, as the header it came from')])
      .optional()
      .openapi({ description: "`beginning`, or the previous answer's Audit-Recorded-Before header" }),
  })
  .strict()
  // An empty range is a mistake worth naming, not an empty export that looks like a quiet period: empty as the export
  // reads it, its bounds raised to whole milliseconds (…00Z to …00.0001Z holds the entries of that millisecond).
  .refine((q) => q.from === undefined || q.to === undefined || (exportBoundMillis(q.from) ?? NaN) < (exportBoundMillis(q.to) ?? NaN), {
    message: 'must be later than from, in whole milliseconds',
    path: ['to'],
  })
  .refine((q) => q.since === undefined || (q.from === undefined && q.to === undefined), {
    message: 'goes alone: since pages by when entries were written, from and to by their own times',
    path: ['since'],
  });

/** Chain heads: an auditor keeps them outside Takedown and later checks that every chain still runs through them. */
export const MAX_CHAIN_HEADS = 1000;
/** Chains are keyed by any text the database holds (a forged row's too), not only by the API's case ids. */
const chainCaseId = z.string().max(1024);
export const ChainHeadsQuerySchema = z.object({ after: chainCaseId.optional(), limit: pageSize(MAX_CHAIN_HEADS, MAX_CHAIN_HEADS) }).strict();

const SEQ_MESSAGE = 'must be a whole number from 1 to 2147483647';
export const ChainHeadSchema = z
  .object({
    caseId: chainCaseId,
    seq: z.number(SEQ_MESSAGE).min(1, SEQ_MESSAGE).max(2_147_483_647, SEQ_MESSAGE).int(SEQ_MESSAGE),
    hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hash in 64 lowercase hex digits'),
  })
  .strict()
  .openapi('ChainHead');

export const ChainHeadsCheckSchema = z
  .object({
    heads: z.array(ChainHeadSchema).min(1).max(MAX_CHAIN_HEADS, `at most ${MAX_CHAIN_HEADS} heads per request: send a long list in parts`),
    // Taken and ignored, so a saved page of GET /v1/audit/heads ({at, heads, next}) or a console file ({takenAt, heads}) is sent as it is.
    at: z.string().max(64).optional(),
    next: z.string().max(1024).nullable().optional(),
    takenAt: z.string().max(64).nullable().optional(),
  })
  .strict()
  .openapi('ChainHeadsCheck');

export type CaseInputBody = z.infer<typeof CaseInputSchema>;
export type CompleteTaskBody = z.infer<typeof CompleteTaskSchema>;
export type PartnerPutBody = z.infer<typeof PartnerPutSchema>;
export type PrincipalCreateBody = z.infer<typeof PrincipalCreateSchema>;

export { z };
