// The PostgreSQL schema: principals, partners, projections of cases and tasks, the audit chain, idempotency, documents, notices, archives.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { CaseView } from '../domain/types';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

export const principals = pgTable(
  'principals',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    org: text('org').notNull(),
    roles: text('roles').array().notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    createdBy: text('created_by'),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('principals_token_hash_idx').on(t.tokenHash)],
);

/** A replaced partner secret and when it stops signing (ISO time). */
export interface RetiredSecret {
  secret: string;
  until: string;
}

export const partners = pgTable('partners', {
  org: text('org').primaryKey(),
  kind: text('kind').notNull(),
  name: text('name'),
  webhookUrl: text('webhook_url'),
  secret: text('secret'),
  /**
   * The secrets PUTs replaced, newest first, each signing notices beside the current one until its `until`
   * (TAKEDOWN_SECRET_OVERLAP after the PUT that replaced it), so the partner can move to the new secret at its own
   * pace; a second change within the overlap keeps the first secret signing too (migration 0019). Expired ones are
   * dropped at the next change.
   */
  retiredSecrets: jsonb('retired_secrets').$type<RetiredSecret[]>().notNull().default([]),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const cases = pgTable(
  'cases',
  {
    id: text('id').primaryKey(),
    reference: text('reference').notNull(),
    org: text('org').notNull(),
    status: text('status').notNull(),
    createdAt: ts('created_at').notNull(),
    createdBy: text('created_by').notNull(),
    updatedAt: ts('updated_at').notNull(),
    closedAt: ts('closed_at'),
    merchantIds: text('merchant_ids').array().notNull(),
    walletIds: text('wallet_ids').array().notNull(),
    hosts: text('hosts').array().notNull(),
    /** The workflow's view of the case, written by activities after every change; `version` orders the writes. */
    view: jsonb('view').$type<CaseView>().notNull(),
    version: integer('version').notNull().default(0),
    /**
     * The workflow task that wrote the row (its history length then; 0 when unknown: rows from before migration 0013 and
     * writers outside a workflow). A task's rerun has a longer history than its first attempt, so a write left behind by
     * that attempt never overwrites the rerun's, even at a higher version; later attempts share a fence, and among them the
     * version decides (laterWrite in activities/cases.ts).
     */
    fence: integer('fence').notNull().default(0),
  },
  (t) => [
    index('cases_created_idx').on(t.createdAt, t.id),
    index('cases_status_created_idx').on(t.status, t.createdAt, t.id),
    // An org's case list, newest first, and its counts per status (index-only), without reading other orgs' cases.
    index('cases_org_created_idx').on(t.org, t.createdAt, t.id),
    index('cases_org_status_idx').on(t.org, t.status),
    index('cases_reference_idx').on(t.reference),
    index('cases_merchant_ids_idx').using('gin', t.merchantIds),
    index('cases_wallet_ids_idx').using('gin', t.walletIds),
    index('cases_hosts_idx').using('gin', t.hosts),
  ],
);

export const tasks = pgTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    caseId: text('case_id').notNull(),
    caseOrg: text('case_org').notNull(),
    type: text('type').notNull(),
    status: text('status').notNull(),
    assigneeOrg: text('assignee_org').notNull(),
    assigneeRole: text('assignee_role').notNull(),
    roles: text('roles').array().notNull(),
    createdAt: ts('created_at').notNull(),
    dueAt: ts('due_at'),
    escalated: boolean('escalated').notNull().default(false),
    completedAt: ts('completed_at'),
    completedById: text('completed_by_id'),
    completedByOrg: text('completed_by_org'),
    outcome: text('outcome'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    comment: text('comment'),
    context: jsonb('context').$type<Record<string, unknown>>().notNull(),
    version: integer('version').notNull().default(0),
    /** As cases.fence. */
    fence: integer('fence').notNull().default(0),
    /**
     * The row as the contract's Task JSON (what taskFromRow in api/views.ts makes), written by a trigger on every insert
     * and update (migration 0007), so inbox pages are sent without building objects. The default never survives a write.
     */
    doc: text('doc').notNull().default('{}'),
  },
  (t) => [
    index('tasks_inbox_idx').on(t.assigneeOrg, t.status, t.createdAt, t.id),
    // The inbox sorted by deadline (?sort=due): a task without one sorts after every other.
    index('tasks_inbox_due_idx').on(t.assigneeOrg, t.status, sql`coalesce(${t.dueAt}, 'infinity'::timestamptz)`, t.id),
    index('tasks_case_idx').on(t.caseId, t.createdAt),
    index('tasks_open_due_idx').on(t.dueAt).where(sql`status = 'open'`),
  ],
);

/**
 * Each org's inbox version: triggers on `tasks` (migration 0014) add one to an org's row, in the same transaction, for
 * every statement that inserts, updates or deletes tasks assigned to it (old and new org alike). The API's inbox cache
 * (api/inbox-cache.ts) keeps a page with the version read in the same statement, and serves it again only while the
 * version is unchanged. No row: version 0 (no task of the org written since the migration). Written only by the triggers.
 */
export const inboxVersions = pgTable('inbox_versions', {
  org: text('org').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull(),
});

/** Append-only; a trigger refuses UPDATE and DELETE (see the custom migration). */
export const auditEntries = pgTable(
  'audit_entries',
  {
    caseId: text('case_id').notNull(),
    seq: integer('seq').notNull(),
    at: ts('at').notNull(),
    actorId: text('actor_id'),
    actorOrg: text('actor_org'),
    action: text('action').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    eventKey: text('event_key').notNull(),
    /** Global insertion order, for the export's stable paging. */
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity(),
    /**
     * When the row was written (PostgreSQL's clock, microseconds; not hashed, unlike `at`, the event's time): the export's
     * `since` mode pages by it. Rows from before migration 0011 hold -infinity.
     */
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    /**
     * The workflow task that appended the entry (its history length then; null outside a workflow and before migration
     * 0013). Not hashed. An entry meeting another event under its key supersedes it only from a later task (appendSuperseding).
     */
    fence: integer('fence'),
  },
  (t) => [
    primaryKey({ columns: [t.caseId, t.seq] }),
    uniqueIndex('audit_event_key_idx').on(t.caseId, t.eventKey),
    index('audit_at_idx').on(t.at, t.id),
    index('audit_recorded_idx').on(t.recordedAt, t.id),
  ],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    principalId: text('principal_id').notNull(),
    key: text('key').notNull(),
    bodyHash: text('body_hash').notNull(),
    caseId: text('case_id').notNull(),
    state: text('state').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    lockedUntil: ts('locked_until').notNull(),
  },
  (t) => [primaryKey({ columns: [t.principalId, t.key] })],
);

export const documents = pgTable(
  'documents',
  {
    id: text('id').primaryKey(),
    caseId: text('case_id').notNull(),
    taskId: text('task_id'),
    type: text('type').notNull(),
    version: text('version').notNull(),
    hash: text('hash').notNull(),
    body: jsonb('body').$type<Record<string, unknown>>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('documents_case_idx').on(t.caseId)],
);

export const notices = pgTable(
  'notices',
  {
    id: text('id').primaryKey(),
    caseId: text('case_id').notNull(),
    taskId: text('task_id'),
    org: text('org').notNull(),
    type: text('type').notNull(),
    state: text('state').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: ts('created_at').notNull().defaultNow(),
    deliveredAt: ts('delivered_at'),
    /**
     * The case's audit chain head when the notice was prepared (`{ seq, hash }`), sent in its body as `auditHead`: each
     * partner keeps a signed copy, a witness outside Takedown of what the chain held then. Null for notices prepared
     * before migration 0021, and for a case whose chain was still empty.
     */
    auditHead: jsonb('audit_head').$type<{ seq: number; hash: string }>(),
  },
  (t) => [
    index('notices_case_idx').on(t.caseId),
    // The notices still being delivered, by org, for the takedown_notices_in_flight gauge read at every scrape.
    index('notices_in_flight_idx').on(t.org, t.state).where(sql`${t.state} IN ('pending', 'retrying')`),
  ],
);

export const historyArchives = pgTable(
  'history_archives',
  {
    caseId: text('case_id').notNull(),
    runId: text('run_id').notNull(),
    workflowId: text('workflow_id').notNull(),
    archivedAt: ts('archived_at').notNull().defaultNow(),
    hash: text('hash').notNull(),
    /** The exact JSON that was hashed, kept as text so the bytes (and so the hash) survive. */
    history: text('history').notNull(),
  },
  (t) => [primaryKey({ columns: [t.caseId, t.runId] })],
);

/**
 * What admins changed outside any case: a partner's webhook or secret (PUT /v1/partners/:org), a principal created or
 * revoked. Append-only like the audit chain (the database refuses UPDATE, DELETE and TRUNCATE, to its owner too:
 * db/migrations/0020); never a secret or a token, only whether one changed and a webhook's origin and hash. Read by
 * admins and auditors: GET /v1/admin/events.
 */
export const adminEvents = pgTable(
  'admin_events',
  {
    id: text('id').primaryKey(),
    at: ts('at').notNull().defaultNow(),
    actorId: text('actor_id').notNull(),
    actorOrg: text('actor_org').notNull(),
    action: text('action').notNull(),
    subject: text('subject').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('admin_events_at_idx').on(t.at, t.id)],
);
