// "Await a task with deadline, reminder and escalation", once for every step; and the case lead's resolve_exception.
import { condition, log } from '@temporalio/workflow';
import type { Task } from '../domain/types';
import { CaseAborted, type CaseState, type NewTask } from './case-state';

const isDone = (t: Task) => t.status !== 'open';

/** Escalates a task: flags it, and a sign-off becomes completable by an le_supervisor of the case's org too. */
export async function escalateTask(state: CaseState, task: Task, detail: Record<string, unknown> = {}): Promise<void> {
  if (task.status !== 'open' || task.escalated) return;
  task.escalated = true;
  if (task.type === 'le_signoff' && !task.roles.includes('le_supervisor')) task.roles.push('le_supervisor');
  await state.saveTask(task, [state.audit('task.escalated', { taskId: task.id, type: task.type, roles: task.roles, ...detail })]);
}

/**
 * Waits for a task of the case's own people (deconfliction, verification, sign-off, exceptions). At the deadline the
 * task escalates; after a second period it is recorded as overdue once. No loop: the history stays bounded.
 * `writesNext`: the caller writes before it waits for anything else once the task is done, so in carried-completions
 * runs that write carries the completion (CaseState.whileWriterWaits).
 */
export async function awaitInternalTask(state: CaseState, task: Task, slaMs: number, writesNext = false, settled?: () => boolean): Promise<Task> {
  // Older runs call condition() exactly as they always did: an extra async layer would resume them a microtask later.
  const until = <T>(wait: () => Promise<T>) => (writesNext && state.carrying ? state.whileWriterWaits(task, wait) : wait());
  // `settled`: what the task was about has settled otherwise (partner-closure runs only pass it), so the wait ends.
  const done = settled ? () => isDone(task) || settled() : () => isDone(task);
  const dueMs = Date.parse(task.dueAt ?? task.createdAt);
  if (await until(() => condition(done, Math.max(1, dueMs - Date.now()), { summary: `SLA deadline: ${task.type} · ${task.assignee.org}` }))) return task;
  await escalateTask(state, task);
  if (await until(() => condition(done, slaMs, { summary: `overdue after escalation: ${task.type}` }))) return task;
  await state.appendAudit([state.audit('task.overdue', { taskId: task.id, type: task.type, dueAt: task.dueAt })]);
  log.warn('task overdue after escalation', { taskId: task.id, type: task.type });
  await until(() => condition(done));
  return task;
}

/** Opens a task for the case's own people and waits for it (deadline, escalation) in one step; `writesNext` as above. */
export async function runInternalTask(state: CaseState, spec: NewTask, writesNext = false): Promise<Task> {
  const task = await state.openTask(spec);
  return awaitInternalTask(state, task, spec.slaMs, writesNext);
}

/** `settled`: what the exception was about settled by itself (the partner completed its task) before the case lead chose. */
export type ExceptionChoice = 'retry' | 'skip' | 'settled';

/**
 * Opens a resolve_exception task for the case lead and waits for the choice. `abort` ends the case (failed); `skip`
 * is refused by the caller's own rules where skipping makes no sense. With `settled` (partner-closure runs), the wait
 * also ends when it turns true: the exception task is then cancelled and the answer is 'settled'.
 */
export async function raiseException(
  state: CaseState,
  about: { reason: string; taskId?: string | null; org?: string; detail?: Record<string, unknown> },
  settled?: () => boolean,
): Promise<ExceptionChoice> {
  const spec: NewTask = {
    type: 'resolve_exception',
    assignee: { org: state.view.org, role: 'case_lead' },
    step: null,
    slaMs: state.slaMs('verification'),
    context: { reason: about.reason, aboutTaskId: about.taskId ?? null, org: about.org ?? null, ...(about.detail ?? {}) },
  };
  const task = settled ? await awaitInternalTask(state, await state.openTask(spec), spec.slaMs, false, settled) : await runInternalTask(state, spec);
  if (task.status === 'open') {
    await state.cancelTask(task, 'settled: the partner completed its task');
    return 'settled';
  }
  if (task.status === 'cancelled') throw new CaseAborted('withdrawn', 'exception task cancelled');
  if (task.outcome === 'abort') throw new CaseAborted('failed', `aborted by the case lead: ${task.comment ?? ''}`.trim());
  return task.outcome === 'skip' ? 'skip' : 'retry';
}
