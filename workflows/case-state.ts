// The case workflow's state and the one way to change it: every change is projected to PostgreSQL with its audit entries.
import { CancellationScope, CancelledFailure, upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import type { Actor, AuditInput, CaseStatus, CaseView, Role, Step, StepName, StepStatus, Task, TaskAssignee, TaskType } from '../domain/types';
import { isClosedStatus, STEP_NAMES, type Slas } from '../domain/types';
import { durationMs } from '../domain/rules/duration';
import type { CaseViewWrite } from '../activities/types';
import type { CaseWorkflowInput } from './messages';
import { localStore, store } from './activities';
import { CaseStatusKey } from './search-attributes';

const iso = (ms: number = Date.now()) => new Date(ms).toISOString();

export interface SentRequest {
  org: string;
  noticeId: string;
  taskId: string | null;
  type: string;
  /**
   * Sent on a task already answered (a hosting re-notice for URLs still up after `removed`): it asks more than the answer
   * gave, so a withdrawal withdraws it though its task stands.
   */
  afterAnswer?: boolean;
}

export interface NewTask {
  type: TaskType;
  assignee: TaskAssignee;
  step: StepName | null;
  slaMs: number;
  context?: Record<string, unknown>;
}

/** Thrown inside the steps when a case lead aborts through a `resolve_exception` or deconfliction task. */
export class CaseAborted extends Error {
  constructor(
    readonly status: CaseStatus,
    readonly reason: string,
    /** Who ended the case this way, when a person did (a deconfliction review's abort). */
    readonly by: Pick<Actor, 'id' | 'org'> | null = null,
  ) {
    super(reason);
    this.name = 'CaseAborted';
  }
}

/** `stage: true` lets a staging run carry the change with the next write (see CaseState.saveCase). */
interface Staging {
  stage?: boolean;
}

export class CaseState {
  readonly view: CaseView;
  readonly tasks = new Map<string, Task>();
  readonly sentRequests: SentRequest[] = [];
  /**
   * Withdrawal notices sent when the case lead skipped a request (skip-notices runs), each in a scope of its own: a
   * withdrawal or failure cancels the ones still being delivered (and withdraws their requests again in its closing
   * notice); other endings close the case and then wait for them before the run ends. `delivered` says whether the
   * partner was told (or has no webhook to be told through).
   */
  readonly skipNotices: { taskId: string; noticeId: string; scope: CancellationScope; done: Promise<void>; settled: boolean; delivered: boolean }[] = [];
  /** True once a task ended declined or skipped: the case then ends completed_with_exceptions. */
  exceptions = false;
  intakeDone = false;
  closed = false;
  private auditSeq = 0;
  private caseVersion = 0;
  private taskVersions = new Map<string, number>();
  /** The local activity in flight or last run (serial runs only): the next one starts after it has finished. */
  private lastLocal: Promise<unknown> = Promise.resolve();
  private readonly serialStore: typeof store;
  /** Changes recorded but not written yet (staged-step-writes runs only); the next write of any flow carries them. */
  private staged: AuditInput[] = [];
  private caseDirty = false;
  /** Completed tasks whose write the next write carries (carried-completions runs only). */
  private stagedTasks: Task[] = [];
  /** Tasks whose waiting flow, once they are done, writes before it waits for anything else (see whileWriterWaits). */
  private readonly writerWaits = new Set<string>();

  /**
   * @param lean whether this run has the lean-projections patch (decided once, at the start of the run, so that a
   *   replay of a history recorded before it takes the old path at every write).
   * @param serial whether it has the serial-local-activities patch (see PATCHES), decided the same way.
   * @param staging whether it has the staged-step-writes patch (only with serial), decided the same way.
   * @param batched whether it has the batched-openings patch (only with staging), decided the same way.
   * @param carrying whether it has the carried-completions patch (only with batched), decided the same way.
   * @param refusals whether it has the refused-reminders patch (only with carrying), decided the same way.
   * @param closure whether it has the partner-closure patch (only with refusals), decided the same way.
   * @param skipNoticesKept whether it has the skip-notices patch (only with closure), decided the same way.
   * @param freshCycles whether it has the refused-retry-cycle patch (only with skipNoticesKept), decided the same way.
   * @param stopsSiblings whether it has the stop-siblings patch (only with freshCycles), decided the same way.
   * @param stillUpRetries whether it has the still-up-retry patch (only with stopsSiblings), decided the same way.
   * @param closesFirst whether it has the close-first patch (only with stillUpRetries), decided the same way.
   */
  constructor(
    readonly input: CaseWorkflowInput,
    readonly lean = false,
    readonly serial = false,
    readonly staging = false,
    readonly batched = false,
    readonly carrying = false,
    readonly refusals = false,
    readonly closure = false,
    readonly skipNoticesKept = false,
    readonly freshCycles = false,
    readonly stopsSiblings = false,
    readonly stillUpRetries = false,
    readonly closesFirst = false,
  ) {
    const now = input.receivedAt;
    this.view = {
      id: input.caseId,
      reference: input.input.reference,
      org: input.org,
      jurisdiction: input.input.jurisdiction,
      priority: input.input.priority,
      status: 'verifying',
      createdAt: now,
      createdBy: input.createdBy.id,
      updatedAt: now,
      closedAt: null,
      merchant: input.input.merchant,
      evidence: input.input.evidence,
      plan: input.input.plan,
      steps: STEP_NAMES.map((name): Step => ({ name, status: 'pending', startedAt: null, finishedAt: null, taskIds: [] })),
      deconflictedWith: [],
      verifiedBy: null,
      signedOffBy: null,
      actionDate: null,
      withdrawal: null,
    };
    // The same calls as localStore, each started only once the previous local activity of this run has finished.
    this.serialStore = new Proxy({} as typeof store, {
      get: (_target, name) =>
        (...args: unknown[]) =>
          this.oneAtATime(() => (localStore as unknown as Record<string | symbol, (...a: unknown[]) => Promise<unknown>>)[name](...args)),
    });
  }

  /**
   * Chains local activities: one in flight per run. A replay resolves local activities from their markers, and when
   * two were in flight at once it may hand both results to the workflow in one activation where the original run got
   * them one by one; the flows waiting on them then issue their next commands in another order (an update answered
   * after, instead of before, a withdrawal's cancellations), which does not replay. One at a time, every result
   * arrives alone in both.
   */
  private oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lastLocal.then(fn, fn);
    this.lastLocal = run.catch(() => undefined);
    return run;
  }

  get caseId(): string {
    return this.view.id;
  }

  /**
   * Where PostgreSQL writes go: ordinary activities before the lean-projections patch, local activities since, and
   * local activities one at a time since the serial-local-activities patch.
   */
  get db(): typeof store {
    if (!this.lean) return store;
    return this.serial ? this.serialStore : localStore;
  }

  /** A deterministic audit key: replays and retried activities produce the same keys, so nothing is appended twice. */
  audit(action: string, data: Record<string, unknown>, actor: Pick<Actor, 'id' | 'org'> | null = null): AuditInput {
    this.auditSeq += 1;
    return this.auditNamed(String(this.auditSeq), action, data, actor);
  }

  /**
   * An entry under a key named by the caller (`wf:<name>:<action>`), outside the counted sequence: added to a write that
   * older code made without it, it moves no later entry's key, so a write begun by older code and retried by newer code
   * appends nothing twice.
   */
  auditNamed(name: string, action: string, data: Record<string, unknown>, actor: Pick<Actor, 'id' | 'org'> | null = null): AuditInput {
    return { key: `wf:${name}:${action}`, action, actor: actor ? { id: actor.id, org: actor.org } : null, data, at: iso() };
  }

  step(name: StepName): Step {
    const s = this.view.steps.find((x) => x.name === name);
    if (!s) throw new Error(`unknown step ${name}`);
    return s;
  }

  /**
   * Takes what is staged, for a write about to be made: staged audit entries go first, and the view goes along when a
   * staged change touched it. Runs that do not stage get `audit` back unchanged.
   */
  private unstage(audit: AuditInput[]): { audit: AuditInput[]; withCase: boolean; tasks: Task[] } {
    if (!this.staging) return { audit, withCase: false, tasks: [] };
    const out = { audit: [...this.staged, ...audit], withCase: this.caseDirty, tasks: this.stagedTasks };
    this.staged = [];
    this.caseDirty = false;
    this.stagedTasks = [];
    return out;
  }

  /**
   * Waits for a task whose flow writes next once it is done, before any other wait (carried-completions runs): while it
   * waits, a completion of the task is staged instead of written, and that next write carries it. The update is
   * answered when its workflow task completes, which is after that write, so the caller still reads its completion.
   * One exception: while PostgreSQL is down for longer than LOCAL_STORE_OPTIONS' localRetryThreshold (10 s), the write
   * falls back to timer-backed retries, the workflow task completes meanwhile, and the update is answered 200 before
   * the write lands. Nothing is lost (Temporal holds the completion, and the write lands once the database is back),
   * but until then the task reads as open in the projection, the inbox and the chain; a completion that is written
   * itself answers 503 in that outage instead.
   */
  async whileWriterWaits<T>(task: Task, wait: () => Promise<T>): Promise<T> {
    this.writerWaits.add(task.id);
    try {
      return await wait();
    } finally {
      this.writerWaits.delete(task.id);
    }
  }

  /** Whether a completion of this task is carried by its waiting flow's next write (see whileWriterWaits). */
  carriesCompletion(task: Task): boolean {
    return this.carrying && this.writerWaits.has(task.id);
  }

  /** Stages a completed task with its audit entries for the next write. */
  stageTask(task: Task, audit: AuditInput[]): void {
    if (!this.stagedTasks.includes(task)) this.stagedTasks.push(task);
    this.staged.push(...audit);
  }

  /** Writes staged completions now, if there are any (a flow that was to carry them was cancelled). */
  async flushStagedTasks(): Promise<void> {
    if (this.stagedTasks.length > 0) await this.saveTasks([], [], false);
  }

  /** The view to write next; a closed case's names every task the run knows (the closing write's stray sweep spares them). */
  private nextCaseView(): CaseViewWrite {
    this.view.updatedAt = iso();
    this.caseVersion += 1;
    return { view: structuredCloneView(this.view), version: this.caseVersion, ...(isClosedStatus(this.view.status) ? { knownTaskIds: [...this.tasks.keys()] } : {}) };
  }

  /** In staging runs a write is never cancelled half-way: it may carry other flows' staged changes. */
  private write<T>(fn: () => Promise<T>): Promise<T> {
    return this.staging ? CancellationScope.nonCancellable(fn) : fn();
  }

  /**
   * The write's fence: the history length of the workflow task making it. A rerun of a task that never completed (its
   * worker lost Temporal) has a longer history than the first attempt (the attempt's timeout is in it), so a write that
   * attempt's worker finishes late never wins over the rerun's (db/migrations/0013). Later attempts of the same task add
   * no events, so they share a fence. An activity argument only: replays never compare it.
   */
  private fence(): number {
    return workflowInfo().historyLength;
  }

  /**
   * Writes the case view (and audit entries) to PostgreSQL. With `stage`, in staging runs, the change is recorded and
   * carried by the next write instead: pass it only where the calling flow itself writes next, before any wait.
   */
  async saveCase(audit: AuditInput[] = [], opts: Staging = {}): Promise<void> {
    if (opts.stage && this.staging) {
      this.staged.push(...audit);
      this.caseDirty = true;
      return;
    }
    // Staged completions ride on a task write.
    if (this.stagedTasks.length > 0) return this.saveTasks([], audit, true);
    const { audit: entries } = this.unstage(audit);
    const caseView = this.nextCaseView();
    await this.write(() => this.db.recordCase({ ...caseView, audit: entries, fence: this.fence() }));
  }

  async setStatus(status: CaseStatus, audit: AuditInput[] = [], opts: Staging = {}): Promise<void> {
    if (this.view.status !== status) {
      this.view.status = status;
      upsertSearchAttributes([{ key: CaseStatusKey, value: status }]);
    }
    await this.saveCase(audit, opts);
  }

  async startStep(name: StepName, opts: Staging = {}): Promise<void> {
    const s = this.step(name);
    s.status = 'in_progress';
    s.startedAt = iso();
    await this.saveCase([this.audit('step.started', { step: name })], opts);
  }

  async finishStep(name: StepName, status: StepStatus, data: Record<string, unknown> = {}, opts: Staging = {}): Promise<void> {
    const s = this.step(name);
    s.status = status;
    s.startedAt ??= iso();
    s.finishedAt = iso();
    await this.saveCase([this.audit('step.finished', { step: name, status, ...data })], opts);
  }

  /** Not async itself: its callers resolve in the same microtask as before saveTasks existed (replays depend on it). */
  saveTask(task: Task, audit: AuditInput[], withCase = false): Promise<void> {
    return this.saveTasks([task], audit, withCase);
  }

  /** Writes tasks (distinct), with any staged completions and staged changes, and the audit entries in one local activity. */
  private async saveTasks(tasks: Task[], audit: AuditInput[], withCase: boolean): Promise<void> {
    const { audit: entries, withCase: caseChanged, tasks: carried } = this.unstage(audit);
    const [first, ...more] = [...carried.filter((t) => !tasks.includes(t)), ...tasks].map((task) => {
      const version = (this.taskVersions.get(task.id) ?? 0) + 1;
      this.taskVersions.set(task.id, version);
      return { task: { ...task, roles: [...task.roles] }, version };
    });
    const caseView = withCase || caseChanged ? this.nextCaseView() : undefined;
    await this.write(() => this.db.recordTask({
      ...first,
      caseOrg: this.view.org,
      fence: this.fence(),
      audit: entries,
      ...(caseView ? { caseView } : {}),
      ...(this.lean ? { observeSince: this.view.createdAt } : {}),
      ...(more.length > 0 ? { moreTasks: more } : {}),
    }));
  }

  /**
   * (stop-siblings runs) A flow whose scope is cancelled (a withdrawal, or a sibling request that failed the case) opens
   * no task: it gets the cancellation instead. Its last write may have been under way when the cancel came, and a write
   * is not cancelled half-way, so the flow can reach an opening before any wait that would have noticed.
   */
  private refuseWhenCancelled(): void {
    if (this.stopsSiblings && CancellationScope.current().consideredCancelled) throw new CancelledFailure('the case is closing: no task is opened');
  }

  async openTask(spec: NewTask): Promise<Task> {
    this.refuseWhenCancelled();
    const task = this.newTask(spec);
    const created = [this.created(task)];
    if (this.lean) {
      await this.saveTask(task, created, spec.step !== null);
    } else {
      await this.saveTask(task, created);
      if (spec.step) await this.saveCase();
    }
    return task;
  }

  /**
   * Opens several tasks with one write, which also carries what is staged (batched-openings runs: the disruption's
   * partner tasks). With no tasks it still writes what is staged.
   */
  async openTaskBatch(specs: NewTask[]): Promise<Task[]> {
    this.refuseWhenCancelled();
    if (specs.length === 0) {
      await this.saveCase();
      return [];
    }
    const tasks = specs.map((spec) => this.newTask(spec));
    await this.saveTasks(tasks, tasks.map((t) => this.created(t)), specs.some((s) => s.step !== null));
    return tasks;
  }

  private created(task: Task): AuditInput {
    return this.audit('task.created', { taskId: task.id, type: task.type, assignee: task.assignee, dueAt: task.dueAt });
  }

  /** A new open task, known to the run (and to its step) but not written yet. */
  private newTask(spec: NewTask): Task {
    const now = Date.now();
    const roles: Role[] = [spec.assignee.role];
    const task: Task = {
      id: `tsk_${uuid4().replace(/-/g, '')}`,
      caseId: this.caseId,
      type: spec.type,
      status: 'open',
      assignee: spec.assignee,
      roles,
      createdAt: iso(now),
      dueAt: iso(now + spec.slaMs),
      escalated: false,
      completedAt: null,
      completedBy: null,
      outcome: null,
      data: null,
      comment: null,
      context: spec.context ?? {},
    };
    this.tasks.set(task.id, task);
    if (spec.step) this.step(spec.step).taskIds.push(task.id);
    return task;
  }

  /** Cancels the task if it is still open; says whether it did (it may have been completed or cancelled meanwhile). */
  async cancelTask(task: Task, reason: string): Promise<boolean> {
    if (task.status !== 'open') return false;
    task.status = 'cancelled';
    task.completedAt = iso();
    await this.saveTask(task, [this.audit('task.cancelled', { taskId: task.id, type: task.type, reason })]);
    return true;
  }

  slaMs(name: keyof Slas): number {
    return durationMs(this.view.plan.slas[name]);
  }

  /** Appends audit entries (with the view when a staged change touched it); `stage` as for saveCase. */
  async appendAudit(entries: AuditInput[], opts: Staging = {}): Promise<void> {
    if (opts.stage && this.staging) {
      this.staged.push(...entries);
      return;
    }
    if (this.stagedTasks.length > 0) return this.saveTasks([], entries, false);
    const { audit, withCase } = this.unstage(entries);
    const caseView = withCase ? this.nextCaseView() : undefined;
    await this.write(() => this.db.appendAudit({ caseId: this.caseId, entries: audit, fence: this.fence(), ...(caseView ? { caseView } : {}) }));
  }

  openTasks(): Task[] {
    return [...this.tasks.values()].filter((t) => t.status === 'open');
  }
}

function structuredCloneView(view: CaseView): CaseView {
  // Activity arguments are serialised anyway; a copy keeps later in-place changes out of a pending call.
  return JSON.parse(JSON.stringify(view)) as CaseView;
}
