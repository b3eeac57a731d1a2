// What callers see: task rows as contract Tasks, the partner-restricted case view, and who may read which case.
import type { TaskRow } from '../db/queries/tasks';
import type { Actor, CaseView, Role, Task, TaskStatus, TaskType } from '../domain/types';
import { hasAnyRole } from './middleware/auth';

export type { TaskRow };

/** Roles that read cases of their own org in full; auditors read every org's. */
export const CASE_READ_ROLES: Role[] = ['case_lead', 'le_officer', 'le_supervisor', 'analyst', 'auditor'];
const ORG_READ_ROLES: Role[] = ['case_lead', 'le_officer', 'le_supervisor', 'analyst'];

export function readsCaseInFull(actor: Actor, caseOrg: string): boolean {
  return actor.roles.includes('auditor') || (actor.org === caseOrg && hasAnyRole(actor, ORG_READ_ROLES));
}

/** Stored JSON documents (their text as PostgreSQL gives it) as one JSON array, without parsing them. */
export function jsonArray(docs: readonly string[]): string {
  return `[${docs.join(',')}]`;
}

/** Task rows as a JSON array of contract Tasks: each row's stored document (tasks.doc, equal to taskFromRow's) joined. */
export function tasksJson(rows: readonly Pick<TaskRow, 'doc'>[]): string {
  return jsonArray(rows.map((r) => r.doc));
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function taskFromRow(row: TaskRow): Task {
  return {
    id: row.id,
    caseId: row.caseId,
    type: row.type as TaskType,
    status: row.status as TaskStatus,
    assignee: { org: row.assigneeOrg, role: row.assigneeRole as Role },
    roles: row.roles as Role[],
    createdAt: row.createdAt.toISOString(),
    dueAt: iso(row.dueAt),
    escalated: row.escalated,
    completedAt: iso(row.completedAt),
    completedBy: row.completedById ? { id: row.completedById, org: row.completedByOrg ?? '' } : null,
    outcome: row.outcome,
    data: row.data ?? null,
    comment: row.comment,
    context: row.context ?? {},
  };
}

/** What a partner's case view lists of its own open tasks on the case. */
export type HeldTask = Pick<TaskRow, 'id' | 'type' | 'status' | 'dueAt'>;

/**
 * The slice of a case a partner org needs for its open tasks: its own channels or hosting entries, the steps of its own
 * tasks; never evidence text, other partners, or how their steps go.
 */
export function partnerCaseView(view: CaseView, org: string, partnerTasks: HeldTask[]) {
  const m = view.merchant;
  const paymentChannels = m.paymentChannels.filter((ch) => (ch.kind === 'card' ? ch.scheme === org || ch.acquirer === org : ch.provider === org));
  const hosting = m.hosting.filter((h) => h.provider === org);
  // Payment partners list the shop's URLs (MATCH/VMSS need them); a host sees only the URLs it was notified about.
  const urls = paymentChannels.length > 0 ? m.urls : [...new Set(hosting.flatMap((h) => h.urls))];
  const own = new Set(partnerTasks.map((t) => t.id));
  return {
    id: view.id,
    reference: view.reference,
    org: view.org,
    jurisdiction: view.jurisdiction,
    priority: view.priority,
    status: view.status,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
    closedAt: view.closedAt,
    // Only the steps the partner holds a task in, with only its own task ids: the others' progress (a freeze under way,
    // told to the host whose shop it is) could tip the merchant off before the money is held.
    steps: view.steps.flatMap((s) => {
      const taskIds = s.taskIds.filter((id) => own.has(id));
      return taskIds.length > 0 ? [{ ...s, taskIds }] : [];
    }),
    merchant: {
      name: m.name,
      // The card statement descriptor is for the payment partners that see it on transactions; a host is not sent it.
      ...(m.descriptor !== undefined && paymentChannels.length > 0 ? { descriptor: m.descriptor } : {}),
      urls,
      paymentChannels,
      hosting,
    },
    evidence: view.evidence.map((e) => ({ kind: e.kind, sha256: e.sha256 })),
    tasks: partnerTasks.map((t) => ({ id: t.id, type: t.type, status: t.status, dueAt: iso(t.dueAt) })),
  };
}
