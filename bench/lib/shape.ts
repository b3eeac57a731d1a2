// Counting a real case's history into a floor shape: the same activities, updates, timers and children, in the same phases.
import type { Acts, FloorShape } from '../floor-workflow';
import type { ParsedHistory } from './history';

export interface ShapeCounts {
  activities: number;
  localActivities: number;
  updates: number;
  timers: number;
  children: number;
  childActivities: number;
  workflowTasks: number;
  events: number;
  bytes: number;
}

export function countsOf(h: ParsedHistory, children: ParsedHistory[] = []): ShapeCounts {
  return {
    activities: h.activities.filter((a) => !a.local).length,
    localActivities: h.activities.filter((a) => a.local).length,
    updates: h.updates.length,
    timers: h.timersStarted,
    children: h.children.length,
    childActivities: children.reduce((n, c) => n + c.activities.length, 0),
    workflowTasks: h.workflowTasks.length,
    events: h.events,
    bytes: h.bytes,
  };
}

const actsOf = (h: ParsedHistory): Acts =>
  h.marks
    .filter((m) => m.kind === 'activity')
    .map((m) => (m.local ? 'L' : 'R'))
    .join('');

/**
 * Segments the history at its landmarks (intake answered, then each completion accepted) and takes, in order, the
 * activities (local or regular) and timers of each segment. A completion's handler runs one activity (the case
 * records the task there, before the update completes) or none (the flow waiting for the task carries that write);
 * the handlers' activities are taken out of the segments.
 * `sequential` is how many completions came one after the other (the analyst's and the officer's); the rest are the
 * partners', whose activities are dealt round-robin to parallel branches.
 */
export function shapeFrom(h: ParsedHistory, sequential: number, child?: ParsedHistory): FloorShape {
  const intakeDone = h.marks.find((m) => m.kind === 'update-completed' && m.ref === 'intake');
  const completions = h.marks.filter((m) => m.kind === 'update' && m.ref !== 'intake');
  if (!intakeDone || completions.length <= sequential) throw new Error(`history of ${h.workflowId} does not have the expected landmarks`);
  const acts = h.marks.filter((m) => m.kind === 'activity');
  // A completion's handler runs an activity when the case records the task there; then that activity is scheduled
  // before the update completes, between its acceptance and its completion events. When the flow waiting for the task
  // carries the write instead, the handler runs none. Local activities show up as markers after any regular activity
  // the main flow scheduled in the same workflow task, so the handlers' kind is decided across all completions first.
  const completedAt = new Map(h.updates.map((u) => [u.acceptedEventId, u.completedEventId ?? Infinity]));
  const windows = completions.map((c) => acts.filter((a) => a.eventId > c.eventId && a.eventId < (completedAt.get(c.eventId) ?? Infinity)));
  const localVotes = windows.filter((w) => w.some((a) => a.local)).length;
  const regularVotes = windows.filter((w) => w.some((a) => !a.local)).length;
  const handlerLocal = localVotes >= regularVotes;
  const handlerIds = new Set<number>();
  const handlers: Acts[] = windows.map((w) => {
    const mine = w.find((a) => Boolean(a.local) === handlerLocal && !handlerIds.has(a.eventId));
    if (!mine) return '';
    handlerIds.add(mine.eventId);
    return handlerLocal ? 'L' : 'R';
  });
  const within = (from: number, to: number) => ({
    acts: acts
      .filter((a) => a.eventId > from && a.eventId <= to && !handlerIds.has(a.eventId))
      .map((a) => (a.local ? 'L' : 'R'))
      .join(''),
    timers: h.marks.filter((m) => m.kind === 'timer' && m.eventId > from && m.eventId <= to).length,
  });
  const end = Math.max(...h.marks.map((m) => m.eventId)) + 1;

  const intake = within(0, intakeDone.eventId);
  const seq: FloorShape['sequential'] = [];
  let prev = intakeDone.eventId;
  for (let s = 0; s < sequential; s++) {
    const seg = within(prev, completions[s].eventId);
    // Timers started before intake answered (none so far) join the first wait.
    seq.push({ acts: seg.acts, timers: seg.timers + (s === 0 ? intake.timers : 0) });
    prev = completions[s].eventId;
  }
  const last = completions[completions.length - 1];
  const partners = completions.length - sequential;
  const phase = within(prev, last.eventId);
  const tail = within(last.eventId, end);
  const parallel = Array.from({ length: partners }, (_, i) => ({
    acts: [...phase.acts].filter((_, k) => k % partners === i).join(''),
    // Timers after the last completion cannot be started on a wait any more; the last branch's wait takes them.
    timers: Math.floor(phase.timers / partners) + (i < phase.timers % partners ? 1 : 0) + (i === partners - 1 ? tail.timers : 0),
  }));
  // The floor's last activity before a wait announces it open to its driver, so every wait needs one before it.
  if ([...seq, ...parallel].some((x) => x.acts.length === 0)) throw new Error(`a wait without an activity before it in ${h.workflowId}: ${JSON.stringify({ seq, parallel })}`);
  return {
    intake: intake.acts,
    sequential: seq,
    parallel,
    tail: tail.acts,
    handlers,
    children: h.children.length,
    child: child ? actsOf(child) : '',
  };
}

export function shapeTotals(s: FloorShape): { activities: number; localActivities: number; updates: number; timers: number; children: number } {
  const waits = s.sequential.length + s.parallel.length;
  const all = s.intake + s.sequential.map((x) => x.acts).join('') + s.parallel.map((x) => x.acts).join('') + s.tail + s.handlers.join('');
  return {
    activities: [...all].filter((a) => a === 'R').length,
    localActivities: [...all].filter((a) => a === 'L').length,
    updates: 1 + waits,
    timers: s.sequential.reduce((n, x) => n + x.timers, 0) + s.parallel.reduce((n, x) => n + x.timers, 0),
    children: s.children,
  };
}

/** Equal neighbours once, with their count: ['none', 'none', '1 local'] → ['none ×2', '1 local']. */
function runs(xs: string[]): string[] {
  const out: { x: string; n: number }[] = [];
  for (const x of xs) {
    const last = out[out.length - 1];
    if (last?.x === x) last.n += 1;
    else out.push({ x, n: 1 });
  }
  return out.map(({ x, n }) => (n > 1 ? `${x} ×${n}` : x));
}

/** A readable form of the shape for the report. */
export function describeShape(s: FloorShape): string {
  const a = (x: Acts) => {
    const l = [...x].filter((c) => c === 'L').length;
    const r = x.length - l;
    return [l ? `${l} local` : '', r ? `${r} regular` : ''].filter(Boolean).join(' + ') || 'none';
  };
  return [
    `intake: ${a(s.intake)}`,
    `people's steps: ${s.sequential.map((x) => `${a(x.acts)}, ${x.timers} timer(s)`).join('; then ')}`,
    `${s.parallel.length} partner branches in parallel: ${s.parallel.map((x) => `${a(x.acts)}, ${x.timers} timer(s)`).join('; ')}`,
    `after the last completion: ${a(s.tail)}`,
    `completion handlers, wait by wait: ${runs(s.handlers.map(a)).join(', ')}`,
    `${s.children} child workflow(s) running ${a(s.child)}`,
  ].join(' · ');
}
