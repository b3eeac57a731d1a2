// The case timeline as inline SVG: one band per step (started → finished), its tasks inside (opened → completed, who completed them) and their deadlines.
import { add, svg, uid } from './dom.js';
import { formatTime, label, LOCAL_ZONE, STEP_NAMES } from './format.js';
import { DATA_FIELDS, taskTitle } from './outcomes.js';

// Three columns: names | time plot | what happened. Text never sits on the plot, so bars anywhere never collide with it.
const W = 1200;
const LEFT = 190;
const TEXT_W = 380;
const PLOT_R = W - TEXT_W - 16;
const AXIS = 30;
const STEP_H = 24;
const TASK_H = 19;
const GAP = 10;
const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

const SHORT = {
  deconfliction_review: 'deconfliction',
  verify_evidence: 'verify evidence',
  le_signoff: 'sign-off',
  confirm_termination: 'termination',
  confirm_freeze: 'freeze',
  confirm_removal: 'removal',
  resolve_exception: 'exception',
};

const t = (iso) => (iso ? Date.parse(iso) : null);

/** The axis's times, in the reader's zone; the zone is named once, left of the ticks (timelineSvg), not on every tick. */
function tickFormat(stepMs, spanMs) {
  if (spanMs > 86_400_000) return new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  if (stepMs >= 60_000) return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** What became of a task and who did it (principal id and org, as the API tells it; names are for admins only). */
export function taskOutcomeText(task) {
  if (task.status === 'open') return `open${task.escalated ? ', escalated' : ''} · due ${formatTime(task.dueAt)}`;
  if (task.status === 'cancelled') return 'cancelled';
  return `${label(task.outcome ?? 'completed')}${task.completedBy ? ` by ${task.completedBy.org}/${task.completedBy.id}` : ''}`;
}

/**
 * What a completion reported, as words: the amount frozen with its currency (the exact decimal sent), the times of a
 * termination, a removal or an action date in the reader's zone; anything else as `name value`.
 */
export function taskDataText(data) {
  if (!data || typeof data !== 'object') return '';
  const parts = [];
  const rest = { ...data };
  if (rest.amount !== undefined) {
    parts.push(`${DATA_FIELDS.amount.label.toLowerCase()} ${rest.amount}${rest.currency ? ` ${rest.currency}` : ''}`);
    delete rest.amount;
    delete rest.currency;
  }
  for (const [key, value] of Object.entries(rest)) {
    if (value === null || value === undefined || typeof value === 'object') continue;
    const field = DATA_FIELDS[key];
    const name = field ? field.label.replace(/ \(.*\)$/, '').toLowerCase() : key;
    parts.push(`${name} ${field?.kind === 'datetime' ? formatTime(String(value)) : String(value)}`);
  }
  return parts.join(', ');
}

function stepText(s) {
  // A step that never started (pending, or cancelled before it began) has no time to tell.
  if (!s.startedAt) return label(s.status);
  if (s.finishedAt) return `${label(s.status)} · ${formatTime(s.finishedAt)}`;
  return `${label(s.status)} since ${formatTime(s.startedAt)}`;
}

/**
 * @param c the case view (steps with taskIds)
 * @param tasks the case's tasks (GET /v1/cases/:id/tasks); any not named by a step are drawn under "other tasks"
 */
export function timelineSvg(c, tasks, now = Date.now()) {
  const byId = new Map(tasks.map((x) => [x.id, x]));
  const inSteps = new Set(c.steps.flatMap((s) => s.taskIds));
  const groups = STEP_NAMES.map((name) => {
    const step = c.steps.find((s) => s.name === name) ?? { name, status: 'pending', startedAt: null, finishedAt: null, taskIds: [] };
    return { name, step, tasks: step.taskIds.map((id) => byId.get(id)).filter(Boolean) };
  });
  const loose = tasks.filter((x) => !inSteps.has(x.id));
  if (loose.length) groups.push({ name: 'other tasks', step: null, tasks: loose });

  // The axis runs from the case's creation to now (open) or its close; a later deadline is an arrow at the plot's edge.
  const t0 = t(c.createdAt);
  const moments = [
    t0,
    t(c.closedAt),
    ...c.steps.flatMap((s) => [t(s.startedAt), t(s.finishedAt)]),
    ...tasks.flatMap((x) => [t(x.createdAt), t(x.completedAt)]),
  ].filter((v) => v !== null);
  let t1 = c.closedAt ? Math.max(...moments) : Math.max(now, ...moments);
  t1 = Math.max(t1, t0 + 10_000);
  const span = t1 - t0;
  t1 += span * 0.02;
  const x = (ms) => LEFT + ((Math.min(Math.max(ms, t0), t1) - t0) / (t1 - t0)) * (PLOT_R - LEFT);

  const height = AXIS + groups.reduce((sum, g) => sum + STEP_H + g.tasks.length * TASK_H + GAP, 0) + 22;
  const titleId = uid('tl-title');
  const descId = uid('tl-desc');
  const summary = groups
    .filter((g) => g.step)
    .map((g) => `${g.name} ${label(g.step.status)}${g.tasks.length ? ` (${g.tasks.map((x) => `${taskTitle(x.type)}: ${taskOutcomeText(x)}`).join('; ')})` : ''}`)
    .join('. ');
  const root = svg('svg', { class: 'timeline', viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}` });
  add(root, svg('title', { id: titleId }, `Timeline of case ${c.reference}`), svg('desc', { id: descId }, summary));

  const stepMs = NICE_STEPS.find((s) => span / s <= 6) ?? NICE_STEPS[NICE_STEPS.length - 1];
  const fmt = tickFormat(stepMs, span);
  const axis = svg('g', { class: 'tl-axis', 'aria-hidden': 'true' });
  for (let tick = Math.ceil(t0 / stepMs) * stepMs; tick <= t1; tick += stepMs) {
    add(
      axis,
      svg('line', { x1: x(tick), x2: x(tick), y1: AXIS - 6, y2: height - 16, class: 'tl-grid' }),
      svg('text', { x: x(tick), y: AXIS - 10, 'text-anchor': 'middle' }, fmt.format(new Date(tick))),
    );
  }
  // The ticks' zone, once, where the names column meets the axis.
  add(axis, svg('text', { x: 22, y: AXIS - 10, class: 'tl-zone' }, `times: ${LOCAL_ZONE}`));
  add(root, axis, svg('line', { x1: PLOT_R + 8, x2: PLOT_R + 8, y1: AXIS - 6, y2: height - 16, class: 'tl-divider' }));
  if (!c.closedAt) {
    add(
      root,
      svg('line', { x1: x(now), x2: x(now), y1: AXIS - 4, y2: height - 16, class: 'tl-now' }),
      svg('text', { x: x(now), y: height - 4, 'text-anchor': 'middle', class: 'tl-now-label' }, 'now'),
    );
  }

  const textX = PLOT_R + 18;
  let y = AXIS;
  for (const g of groups) {
    const band = svg('g', { class: 'tl-band', 'data-step': g.name });
    add(band, svg('text', { x: 8, y: y + 16, class: 'tl-step-name' }, g.step ? label(g.name) : g.name));
    if (g.step) {
      const s = g.step;
      add(band, svg('text', { x: textX, y: y + 16, class: `tl-step-status${s.status === 'pending' ? ' tl-pending' : ''}` }, stepText(s)));
      if (s.startedAt) {
        const x1 = x(t(s.startedAt));
        const x2 = Math.max(x1 + 3, x(s.finishedAt ? t(s.finishedAt) : now));
        add(
          band,
          svg(
            'rect',
            { x: x1, y: y + 4, width: x2 - x1, height: STEP_H - 8, rx: 3, class: `tl-step step-${s.status}` },
            svg('title', {}, `${g.name}: ${label(s.status)}, started ${formatTime(s.startedAt)}${s.finishedAt ? `, finished ${formatTime(s.finishedAt)}` : ''}`),
          ),
        );
      }
    }
    y += STEP_H;
    for (const task of g.tasks) {
      const start = t(task.createdAt);
      const end = t(task.completedAt) ?? (task.status === 'open' ? now : start);
      const due = t(task.dueAt);
      const x1 = x(start);
      const x2 = Math.max(x1 + 2, x(end));
      const missed = due !== null && due < end;
      add(
        band,
        svg('text', { x: 22, y: y + 13, class: 'tl-task-name' }, `${SHORT[task.type] ?? task.type} · ${task.assignee.org}`),
        svg(
          'rect',
          { x: x1, y: y + 5, width: x2 - x1, height: TASK_H - 10, rx: 2, class: `tl-task task-${task.status}` },
          svg('title', {}, `${taskTitle(task.type)} for ${task.assignee.org}: opened ${formatTime(task.createdAt)}, ${taskOutcomeText(task)}${task.completedAt ? ` at ${formatTime(task.completedAt)}` : ''}`),
        ),
        svg('text', { x: textX, y: y + 13, class: `tl-task-status${missed ? ' late' : ''}` }, `${taskOutcomeText(task)}${missed ? ' · late' : ''}`),
      );
      if (due !== null) {
        const dueTitle = svg('title', {}, `deadline ${formatTime(task.dueAt)}${missed ? ' (missed)' : ''}`);
        const cy = y + 9.5;
        if (due <= t1) {
          const dx = x(due);
          add(band, svg('path', { d: `M${dx} ${cy - 5} L${dx + 5} ${cy} L${dx} ${cy + 5} L${dx - 5} ${cy} Z`, class: `tl-due${missed ? ' missed' : ''}` }, dueTitle));
        } else if (task.status === 'open' && !c.closedAt) {
          // Beyond the axis: an arrow at the plot's right edge says "the deadline is later" (only while it still matters).
          add(band, svg('path', { d: `M${PLOT_R - 2} ${cy - 5} L${PLOT_R + 5} ${cy} L${PLOT_R - 2} ${cy + 5} Z`, class: 'tl-due-later' }, dueTitle));
        }
      }
      y += TASK_H;
    }
    y += GAP;
    add(root, band);
  }
  return root;
}
