// The case page: its status and facts, the timeline of steps and tasks, merchant and evidence references (hashes only), and the case lead's actions.
import { getJson, postJson } from '../api.js';
import { add, fill, h } from '../dom.js';
import { clearProblem, control, showProblem } from '../forms.js';
import { dueText, formatTime, label, OPEN_STATUSES, STEP_NAMES } from '../format.js';
import { taskTitle } from '../outcomes.js';
import { taskOutcomeText, timelineSvg } from '../timeline.js';
import { errorBox, loading, progressBar, section, statusBadge } from '../widgets.js';

const EVIDENCE_KINDS = ['test_transaction', 'screenshot_hash', 'page_capture_hash', 'hash_match', 'payment_trace', 'report', 'other'];

/** Every task of the case, oldest first, in one request (a partner's answer holds its own org's tasks only). */
async function caseTasks(c) {
  return (await getJson(`/v1/cases/${encodeURIComponent(c.id)}/tasks`)).items;
}

function facts(c) {
  const row = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
  const time = (iso) => (iso ? h('time', { datetime: iso }, formatTime(iso)) : '—');
  return h(
    'dl',
    { class: 'facts' },
    row('Status', statusBadge(c.status)),
    c.steps ? row('Progress', progressBar(c.steps)) : null,
    row('Case id', h('code', {}, c.id)),
    row('Org', c.org),
    row('Jurisdiction', c.jurisdiction),
    row('Priority', label(c.priority)),
    row('Created', time(c.createdAt), c.createdBy ? ` by ${c.createdBy}` : ''),
    c.updatedAt ? row('Updated', time(c.updatedAt)) : null,
    c.closedAt ? row('Closed', time(c.closedAt)) : null,
    c.verifiedBy ? row('Verified by', c.verifiedBy) : null,
    c.signedOffBy ? row('Signed off by', c.signedOffBy) : null,
    c.actionDate ? row('Action date', time(c.actionDate)) : null,
    c.deconflictedWith?.length ? row('Overlaps with', c.deconflictedWith.map((id, i) => [i ? ', ' : '', h('a', { href: `#/cases/${encodeURIComponent(id)}` }, id)])) : null,
    c.withdrawal ? row('Withdrawn', `${c.withdrawal.reason} (by ${c.withdrawal.by}, `, time(c.withdrawal.at), ')') : null,
  );
}

function merchantSection(m) {
  const channel = (ch) =>
    ch.kind === 'card'
      ? h('tr', {}, h('td', {}, 'card'), h('td', {}, ch.scheme), h('td', {}, ch.acquirer), h('td', {}, h('code', {}, ch.merchantId)))
      : h('tr', {}, h('td', {}, 'wallet'), h('td', {}, ch.provider), h('td', {}, '—'), h('td', {}, h('code', {}, ch.accountId)));
  return section(
    'merchant-h',
    'Merchant',
    h('dl', { class: 'facts' }, h('dt', {}, 'Name'), h('dd', {}, m.name), m.descriptor ? [h('dt', {}, 'Descriptor'), h('dd', {}, h('code', {}, m.descriptor))] : null),
    h('h3', {}, 'URLs'),
    m.urls.length ? h('ul', { class: 'plain' }, m.urls.map((u) => h('li', {}, h('code', {}, u)))) : h('p', {}, 'None.'),
    h('h3', {}, 'Payment channels'),
    m.paymentChannels.length
      ? h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ['Kind', 'Scheme or provider', 'Acquirer', 'Merchant or account id'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, m.paymentChannels.map(channel)),
        )
      : h('p', {}, 'None.'),
    h('h3', {}, 'Hosting'),
    m.hosting.length
      ? h('ul', { class: 'plain' }, m.hosting.map((x) => h('li', {}, `${x.provider}${x.ip ? ` (${x.ip})` : ''}: `, x.urls.map((u, i) => [i ? ', ' : '', h('code', {}, u)]))))
      : h('p', {}, 'None.'),
  );
}

function evidenceSection(evidence) {
  return section(
    'evidence-h',
    'Evidence references',
    h('p', { class: 'help' }, 'Hashes only: the material itself never passes through this system.'),
    h(
      'table',
      { class: 'evidence' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'SHA-256'))),
      h('tbody', {}, evidence.map((e) => h('tr', {}, h('td', {}, label(e.kind)), h('td', {}, h('code', { class: 'hash' }, e.sha256))))),
    ),
  );
}

function stepTable(c, tasks) {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const taskLine = (t) =>
    h(
      'li',
      {},
      `${taskTitle(t.type)} (${t.assignee.org}, ${label(t.assignee.role)}): ${taskOutcomeText(t)}`,
      t.completedAt && t.status === 'completed' ? ` at ${formatTime(t.completedAt)}` : '',
      t.dueAt && t.status !== 'open' ? `; deadline was ${formatTime(t.dueAt)}` : '',
      t.comment ? ` — “${t.comment}”` : '',
    );
  return h(
    'table',
    { class: 'steps' },
    h('caption', {}, 'Steps and tasks'),
    h('thead', {}, h('tr', {}, ['Step', 'Status', 'Started', 'Finished', 'Tasks'].map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      {},
      STEP_NAMES.map((name) => {
        const s = c.steps.find((x) => x.name === name) ?? { status: 'pending', taskIds: [] };
        const ts = s.taskIds.map((id) => byId.get(id)).filter(Boolean);
        return h(
          'tr',
          { 'data-step': name },
          h('th', { scope: 'row' }, label(name)),
          h('td', {}, h('span', { class: `step-pill step-${s.status}` }, label(s.status))),
          h('td', {}, formatTime(s.startedAt)),
          h('td', {}, formatTime(s.finishedAt)),
          h('td', {}, ts.length ? h('ul', { class: 'plain' }, ts.map(taskLine)) : '—'),
        );
      }),
    ),
  );
}

const LEGEND = [
  ['step-done', 'done'],
  ['step-in_progress', 'in progress'],
  ['step-declined', 'declined or failed'],
  ['step-skipped', 'skipped or cancelled'],
];

function legend() {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    LEGEND.map(([cls, text]) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text)),
    h('li', {}, h('span', { class: 'diamond', 'aria-hidden': 'true' }), 'deadline'),
    h('li', {}, h('span', { class: 'diamond missed', 'aria-hidden': 'true' }), 'deadline missed'),
    h('li', {}, h('span', { class: 'arrow', 'aria-hidden': 'true' }), 'deadline later than now'),
  );
}

function withdrawForm(c, done) {
  const reason = control('Reason', h('textarea', { name: 'reason', rows: '3', maxlength: '2000' }), { hint: '(sent to partners already notified)' });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'danger' }, 'Withdraw case');
  const form = h('form', { novalidate: true }, reason.wrap, submit, alert);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, [reason]);
    submit.disabled = true;
    try {
      await postJson(`/v1/cases/${encodeURIComponent(c.id)}/withdraw`, { reason: reason.input.value });
      done('The case is withdrawn; open tasks are cancelled and notified partners get a withdrawal notice.');
    } catch (err) {
      showProblem(err, alert, (key) => (key === 'reason' || key === 'body' ? reason : null), [reason]);
      submit.disabled = false;
    }
  });
  return h('details', { class: 'action' }, h('summary', {}, 'Withdraw this case'), form);
}

function evidenceForm(c, done) {
  const kind = control('Kind', h('select', { name: 'kind' }, EVIDENCE_KINDS.map((k) => h('option', { value: k }, label(k)))));
  const sha = control('SHA-256 of the item', h('input', { name: 'sha256', autocomplete: 'off', spellcheck: 'false', class: 'mono' }), { hint: '(64 hex characters; leave empty to add URLs only)', name: 'SHA-256' });
  const urls = control('URLs', h('textarea', { name: 'urls', rows: '3', class: 'mono' }), { hint: '(one per line; they reach hosting notices not yet sent)' });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Add to the case');
  const controls = [kind, sha, urls];
  const form = h('form', { novalidate: true }, kind.wrap, sha.wrap, urls.wrap, submit, alert);
  // Error keys: "evidence" (nothing given), "evidence.0.sha256", "evidence.0.kind", "urls.3".
  const find = (key) => {
    if (key === 'evidence' || key === 'body' || /^evidence\.\d+\.sha256$/.test(key)) return sha;
    if (/^evidence\.\d+\.kind$/.test(key)) return kind;
    if (key === 'urls' || key.startsWith('urls.')) return urls;
    return null;
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, controls);
    const hash = sha.input.value.trim();
    const body = {
      evidence: hash ? [{ kind: kind.input.value, sha256: hash }] : [],
      urls: urls.input.value.split('\n').map((u) => u.trim()).filter(Boolean),
    };
    submit.disabled = true;
    try {
      await postJson(`/v1/cases/${encodeURIComponent(c.id)}/evidence`, body);
      done('Added to the case.');
    } catch (err) {
      showProblem(err, alert, find, controls);
      submit.disabled = false;
    }
  });
  return h('details', { class: 'action' }, h('summary', {}, 'Add evidence or URLs'), form);
}

function partnerTasks(c) {
  return section(
    'ptasks-h',
    'Your tasks on this case',
    h('ul', { class: 'plain' }, (c.tasks ?? []).map((t) => h('li', {}, `${taskTitle(t.type)}: ${label(t.status)}, ${dueText(t.dueAt)}`))),
    h('p', {}, h('a', { href: '#/tasks' }, 'Complete them in My tasks')),
  );
}

export function renderCase(page, { params, identity }) {
  const [id] = params;
  const heading = h('h1', {}, 'Case');
  const status = h('p', { class: 'visually-hidden', role: 'status' });
  const head = h('div', { class: 'case-head' });
  const actions = h('div', { class: 'case-actions' });
  const timelineBody = h('div', { class: 'timeline-body' });
  const timeline = h('section', { class: 'panel', 'aria-labelledby': 'timeline-h', hidden: true }, h('h2', { id: 'timeline-h' }, 'Timeline'), timelineBody);
  const details = h('div', { class: 'case-details' });
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  add(page, 
    h('p', { class: 'crumbs' }, identity.caps.readCases ? h('a', { href: '#/cases' }, '← All cases') : h('a', { href: '#/tasks' }, '← My tasks'), ' ', refresh),
    heading,
    status,
    head,
    actions,
    timeline,
    details,
  );

  async function loadTimeline(c) {
    timelineBody.replaceChildren(loading('Loading tasks'));
    try {
      const tasks = await caseTasks(c);
      fill(
        timelineBody,
        h('div', { class: 'timeline-wrap' }, timelineSvg(c, tasks)),
        legend(),
        stepTable(c, tasks),
      );
    } catch (err) {
      fill(timelineBody, errorBox(err, 'Loading the tasks'));
    }
  }

  async function load(message) {
    refresh.disabled = true;
    fill(head, loading('Loading the case'));
    let c;
    try {
      c = await getJson(`/v1/cases/${encodeURIComponent(id)}`);
    } catch (err) {
      fill(head, errorBox(err, 'Loading the case'));
      fill(actions);
      fill(details);
      timeline.hidden = true;
      refresh.disabled = false;
      return;
    }
    // A partner's view lists its own open tasks (`tasks`); readers in full get the timeline instead.
    const full = !Array.isArray(c.tasks);
    heading.textContent = `Case ${c.reference}`;
    document.title = `${heading.textContent} · Takedown`;
    status.textContent = message ?? '';
    fill(
      head,
      message ? h('p', { class: 'notice' }, message) : null,
      facts(c),
      identity.caps.readAudit && full ? h('p', {}, h('a', { href: `#/audit/${encodeURIComponent(c.id)}` }, 'Audit trail of this case')) : null,
    );
    const ownOrg = identity.org === c.org;
    const open = OPEN_STATUSES.includes(c.status);
    const after = (text) => void load(text);
    fill(
      actions,
      open && ownOrg && identity.caps.withdraw ? withdrawForm(c, after) : null,
      open && ownOrg && identity.caps.addEvidence ? evidenceForm(c, after) : null,
    );
    fill(details, merchantSection(c.merchant), evidenceSection(c.evidence), full ? null : partnerTasks(c));
    timeline.hidden = !full;
    refresh.disabled = false;
    if (full) await loadTimeline(c);
  }

  refresh.addEventListener('click', () => void load());
  void load();
}
