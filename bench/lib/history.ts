// Reading workflow histories: event counts, activity spans by type, updates with their task ids, and time in flight by category.
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/** An event in Temporal's JSON history format (what `temporal workflow show --output json` and the archive hold). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type HistoryEvent = Record<string, any> & { eventId: string; eventTime: string; eventType: string };

export interface ActivitySpan {
  type: string;
  /** A local activity (run inside a workflow task, recorded as a marker): no input and no start time in the history. */
  local: boolean;
  scheduledAt: number;
  startedAt: number | null;
  closedAt: number | null;
  attempt: number;
  input: unknown;
  scheduledEventId: number;
}

export interface UpdateMark {
  name: string;
  updateId: string;
  acceptedAt: number;
  acceptedEventId: number;
  completedAt: number | null;
  completedEventId: number | null;
  args: unknown;
}

export interface ParsedHistory {
  workflowId: string;
  events: number;
  bytes: number;
  startedAt: number;
  closedAt: number | null;
  activities: ActivitySpan[];
  updates: UpdateMark[];
  timersStarted: number;
  children: string[];
  /** JSON bytes by event type (activities and local activities by their activity type), to see what makes a history big. */
  bytesByKind: Record<string, number>;
  /** Workflow task spans: scheduled → completed. */
  workflowTasks: { scheduledAt: number; startedAt: number | null; completedAt: number | null }[];
  /** Event ids of ActivityTaskScheduled, TimerStarted, UpdateAccepted in order, for segmenting. */
  marks: { eventId: number; kind: 'activity' | 'timer' | 'update' | 'update-completed' | 'child' | 'wft-scheduled'; ref?: string; local?: boolean }[];
}

/** RFC 3339 with nanoseconds → epoch milliseconds with the sub-millisecond part kept. */
function toMs(ts: string | undefined): number {
  if (!ts) return NaN;
  const m = /\.(\d+)Z$/.exec(ts);
  const base = Date.parse(ts.replace(/\.\d+Z$/, 'Z'));
  return m ? base + Number(`0.${m[1]}`) * 1000 : base;
}

/** json/plain payloads (the SDK default converter) back into values. */
function decode(payloads: { data?: string }[] | undefined): unknown[] {
  return (payloads ?? []).map((p) => {
    try {
      return p.data ? JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) : null;
    } catch {
      return null;
    }
  });
}

export async function fetchParsedHistory(client: Client, workflowId: string): Promise<ParsedHistory> {
  return parseHistory(historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory()), workflowId);
}

/** Parses a history in Temporal's JSON format (as fetched, archived, or kept under test/histories/). */
export function parseHistory(json: string, workflowId: string): ParsedHistory {
  const events = (JSON.parse(json) as { events?: HistoryEvent[] }).events ?? [];
  const bytes = Buffer.byteLength(json);
  const spans = new Map<number, ActivitySpan>();
  const updates = new Map<string, UpdateMark>();
  const wfts = new Map<number, { scheduledAt: number; startedAt: number | null; completedAt: number | null }>();
  const out: ParsedHistory = {
    workflowId,
    events: events.length,
    bytes,
    startedAt: NaN,
    closedAt: null,
    activities: [],
    updates: [],
    timersStarted: 0,
    children: [],
    workflowTasks: [],
    marks: [],
    bytesByKind: {},
  };
  const kindOf = (e: HistoryEvent): string => {
    const t = e.eventType.replace(/^EVENT_TYPE_/, '');
    if (t === 'ACTIVITY_TASK_SCHEDULED') return `activity input: ${e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?'}`;
    if (t === 'ACTIVITY_TASK_COMPLETED') {
      const sched = spans.get(Number(e.activityTaskCompletedEventAttributes?.scheduledEventId));
      return `activity result: ${sched?.type ?? '?'}`;
    }
    if (t === 'MARKER_RECORDED' && e.markerRecordedEventAttributes?.markerName === 'core_local_activity') return 'local activity markers';
    return t.toLowerCase();
  };
  for (const e of events) {
    const id = Number(e.eventId);
    const k = kindOf(e);
    out.bytesByKind[k] = (out.bytesByKind[k] ?? 0) + JSON.stringify(e).length;
    const at = toMs(e.eventTime);
    switch (e.eventType) {
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED':
        out.startedAt = at;
        break;
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW':
        out.closedAt = at;
        break;
      case 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED': {
        const a = e.activityTaskScheduledEventAttributes!;
        const span: ActivitySpan = { type: a.activityType?.name ?? '?', local: false, scheduledAt: at, startedAt: null, closedAt: null, attempt: 1, input: decode(a.input?.payloads)[0], scheduledEventId: id };
        spans.set(id, span);
        out.activities.push(span);
        out.marks.push({ eventId: id, kind: 'activity', ref: span.type, local: false });
        break;
      }
      case 'EVENT_TYPE_MARKER_RECORDED': {
        const a = e.markerRecordedEventAttributes;
        if (a?.markerName !== 'core_local_activity') break;
        const data = decode(a.details?.data?.payloads)[0] as {
          activity_type?: string;
          attempt?: number;
          complete_time?: { seconds: number; nanos: number };
          original_schedule_time?: { seconds: number; nanos: number };
        } | null;
        const t = (x?: { seconds: number; nanos: number }) => (x ? x.seconds * 1000 + x.nanos / 1e6 : NaN);
        const span: ActivitySpan = {
          type: data?.activity_type ?? '?',
          local: true,
          scheduledAt: t(data?.original_schedule_time),
          startedAt: null,
          closedAt: t(data?.complete_time),
          attempt: data?.attempt ?? 1,
          input: null,
          scheduledEventId: id,
        };
        out.activities.push(span);
        out.marks.push({ eventId: id, kind: 'activity', ref: span.type, local: true });
        break;
      }
      case 'EVENT_TYPE_ACTIVITY_TASK_STARTED': {
        const a = e.activityTaskStartedEventAttributes!;
        const span = spans.get(Number(a.scheduledEventId));
        if (span) {
          span.startedAt = at;
          span.attempt = a.attempt ?? 1;
        }
        break;
      }
      case 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED':
      case 'EVENT_TYPE_ACTIVITY_TASK_FAILED':
      case 'EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT':
      case 'EVENT_TYPE_ACTIVITY_TASK_CANCELED': {
        const a = (e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes) as {
          scheduledEventId?: unknown;
        };
        const span = spans.get(Number(a?.scheduledEventId));
        if (span) span.closedAt = at;
        break;
      }
      case 'EVENT_TYPE_TIMER_STARTED':
        out.timersStarted += 1;
        out.marks.push({ eventId: id, kind: 'timer' });
        break;
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED': {
        const a = e.workflowExecutionUpdateAcceptedEventAttributes!;
        const req = a.acceptedRequest;
        const mark: UpdateMark = {
          name: req?.input?.name ?? '?',
          updateId: req?.meta?.updateId ?? a.protocolInstanceId ?? '?',
          acceptedAt: at,
          acceptedEventId: id,
          completedAt: null,
          completedEventId: null,
          args: decode(req?.input?.args?.payloads)[0],
        };
        updates.set(mark.updateId, mark);
        out.updates.push(mark);
        out.marks.push({ eventId: id, kind: 'update', ref: mark.name });
        break;
      }
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED': {
        const a = e.workflowExecutionUpdateCompletedEventAttributes!;
        const u = updates.get(a.meta?.updateId ?? '');
        if (u) {
          u.completedAt = at;
          u.completedEventId = id;
        }
        out.marks.push({ eventId: id, kind: 'update-completed', ref: u?.name });
        break;
      }
      case 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED':
        out.children.push(e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? '?');
        out.marks.push({ eventId: id, kind: 'child' });
        break;
      case 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED':
        wfts.set(id, { scheduledAt: at, startedAt: null, completedAt: null });
        out.marks.push({ eventId: id, kind: 'wft-scheduled' });
        break;
      case 'EVENT_TYPE_WORKFLOW_TASK_STARTED': {
        const w = wfts.get(Number(e.workflowTaskStartedEventAttributes?.scheduledEventId));
        if (w) w.startedAt = at;
        break;
      }
      case 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED':
      case 'EVENT_TYPE_WORKFLOW_TASK_FAILED':
      case 'EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT': {
        const a = (e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes ?? e.workflowTaskTimedOutEventAttributes) as { scheduledEventId?: unknown };
        const w = wfts.get(Number(a?.scheduledEventId));
        if (w) w.completedAt = at;
        break;
      }
      default:
        break;
    }
  }
  out.workflowTasks = [...wfts.values()];
  return out;
}

/** Length of the union of intervals (ms): "time with at least one of these in flight". */
export function unionLength(intervals: [number, number][]): number {
  const s = intervals.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && b >= a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let cur: [number, number] | null = null;
  for (const [a, b] of s) {
    if (!cur || a > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    } else if (b > cur[1]) cur[1] = b;
  }
  if (cur) total += cur[1] - cur[0];
  return total;
}

/** Intersection of a union of intervals with a window, as a union length. */
export function unionOf(spans: ActivitySpan[]): number {
  return unionLength(spans.map((s) => [s.scheduledAt, s.closedAt ?? NaN]));
}
