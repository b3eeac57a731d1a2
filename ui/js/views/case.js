// The case page: its status and facts, the timeline of steps and tasks, merchant and evidence references (hashes only), and the case lead's actions.
import { ApiError, describeError, formKey, getJson, postJson } from '../api.js';
import { add, fill, h } from '../dom.js';
import { clearProblem, control, fieldProblem, focusNote, lines, showProblem } from '../forms.js';
import { dueText, formatTime, label, localInputToIso, OPEN_STATUSES, STEP_NAMES, zoneHint } from '../format.js';
import { taskTitle } from '../outcomes.js';
import { taskDataText, taskOutcomeText, timelineSvg } from '../timeline.js';
import { errorBox, loading, progressBar, repeatWhileShown, section, statusBadge } from '../widgets.js';

/** How often an open case page reloads by itself (while the tab is visible). */
const POLL_MS = 20_000;

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
    // A partner's view holds only the steps of its own tasks (api/views.ts): the bar of five would read the rest as pending.
    c.steps && !Array.isArray(c.tasks) ? row('Progress', progressBar(c.steps)) : null,
    row('Case id', h('code', {}, c.id)),
    row('Org', c.org),
    row('Jurisdiction', c.jurisdiction),
    row('Priority', label(c.priority)),
    row('Created', time(c.createdAt), c.createdBy ? ` by ${c.createdBy}` : ''),
    c.updatedAt ? row('Updated', time(c.updatedAt)) : null,
    c.closedAt ? row('Closed', time(c.closedAt)) : null,
    c.verifiedBy ? row('Verified by', c.verifiedBy) : null,
    c.signedOffBy ? row('Signed off by', c.signedOffBy) : null,
    // Signed off with an action date to come: the status still reads "awaiting signoff" until disruption starts then.
    c.actionDate
      ? row('Action date', time(c.actionDate), c.signedOffBy && c.status === 'awaiting_signoff' && Date.parse(c.actionDate) > Date.now() ? ` (signed off: disruption starts then, ${dueText(c.actionDate).replace(/^due /, '')})` : '')
      : null,
    c.deconflictedWith?.length ? row('Overlaps with', c.deconflictedWith.map((id, i) => [i ? ', ' : '', h('a', { href: `#/cases/${encodeURIComponent(id)}` }, id)])) : null,
    c.withdrawal ? row('Withdrawn', `${c.withdrawal.reason} (by ${c.withdrawal.by}, `, time(c.withdrawal.at), ')') : null,
  );
}

/** `restricted`: a partner's view, which leaves out what its tasks do not need; an empty list there is not "none". */
function merchantSection(m, restricted = false) {
  const none = () => h('p', {}, restricted ? 'None shown to your org (it sees only what its tasks need).' : 'None.');
  const channel = (ch) =>
    ch.kind === 'card'
      ? h('tr', {}, h('td', {}, 'card'), h('td', {}, ch.scheme), h('td', {}, ch.acquirer), h('td', {}, h('code', {}, ch.merchantId), ch.mcc ? ` · MCC ${ch.mcc}` : ''))
      : h('tr', {}, h('td', {}, 'wallet'), h('td', {}, ch.provider), h('td', {}, '—'), h('td', {}, h('code', {}, ch.accountId)));
  const fact = (term, value) => (value ? [h('dt', {}, term), h('dd', {}, value)] : null);
  const owner = (o) => h('li', {}, o.name, o.role ? ` (${o.role})` : '', o.address ? ` · ${o.address}` : '', o.nationalId ? ` · national id ${o.nationalId}` : '');
  return section(
    'merchant-h',
    'Merchant',
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Name'),
      h('dd', {}, m.name),
      m.descriptor ? [h('dt', {}, 'Descriptor'), h('dd', {}, h('code', {}, m.descriptor))] : null,
      // The identity a scheme lists a terminated merchant by, as far as the case lead gave it.
      fact('Legal name', m.legalName),
      fact('Registered address', m.address),
      fact('Country', m.country),
      fact('Phone', m.phone),
      fact('Tax ids', m.taxIds?.length ? m.taxIds.join(', ') : null),
      fact('Account opened', m.dateOpened),
      fact('Principal owners', m.principals?.length ? h('ul', { class: 'plain' }, m.principals.map(owner)) : null),
    ),
    h('h3', {}, 'URLs'),
    m.urls.length ? h('ul', { class: 'plain' }, m.urls.map((u) => h('li', {}, h('code', {}, u)))) : none(),
    h('h3', {}, 'Payment channels'),
    m.paymentChannels.length
      ? h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ['Kind', 'Scheme or provider', 'Acquirer', 'Merchant or account id'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, m.paymentChannels.map(channel)),
        )
      : none(),
    h('h3', {}, 'Hosting'),
    m.hosting.length
      ? h('ul', { class: 'plain' }, m.hosting.map((x) => h('li', {}, `${x.provider}${x.ip ? ` (${x.ip})` : ''}: `, x.urls.map((u, i) => [i ? ', ' : '', h('code', {}, u)]))))
      : none(),
  );
}

/** When and by whom an evidence item was collected, as far as the case lead said. */
function collected(e) {
  if (!e.collectedAt && !e.collectedBy) return '—';
  return [e.collectedAt ? h('time', { datetime: e.collectedAt }, formatTime(e.collectedAt)) : '', e.collectedAt && e.collectedBy ? ' ' : '', e.collectedBy ? `by ${e.collectedBy}` : ''];
}

function evidenceSection(evidence) {
  return section(
    'evidence-h',
    'Evidence references',
    h('p', { class: 'help' }, 'Hashes only: the material itself never passes through this system.'),
    h(
      'table',
      { class: 'evidence' },
      h('thead', {}, h('tr', {}, ['Kind', 'SHA-256', 'Description', 'Collected'].map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        evidence.map((e) =>
          h('tr', {}, h('td', {}, label(e.kind)), h('td', {}, h('code', { class: 'hash' }, e.sha256)), h('td', { class: 'description' }, e.description ?? '—'), h('td', {}, collected(e))),
        ),
      ),
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
      t.status === 'completed' && taskDataText(t.data) ? ` (${taskDataText(t.data)})` : '',
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

function legend(closed) {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    LEGEND.map(([cls, text]) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text)),
    h('li', {}, h('span', { class: 'diamond', 'aria-hidden': 'true' }), 'deadline'),
    h('li', {}, h('span', { class: 'diamond missed', 'aria-hidden': 'true' }), 'deadline missed'),
    closed ? null : h('li', {}, h('span', { class: 'arrow', 'aria-hidden': 'true' }), 'deadline later than now'),
  );
}

function withdrawForm(id, done) {
  const reason = control('Reason', h('textarea', { name: 'reason', rows: '3', maxlength: '2000' }), { hint: '(sent to partners already notified)' });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'danger' }, 'Withdraw case');
  // Kept while a submission goes unanswered: pressing again repeats the same request (api.js formKey).
  const key = formKey();
  const form = h('form', { novalidate: true }, reason.wrap, submit, alert);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, [reason]);
    // Withdrawing cannot be undone and notifies partners: asked once more (a missing reason is the API's 422, unasked).
    if (reason.input.value.trim() && !window.confirm('Withdraw this case? Its open tasks are cancelled and partners already notified get a withdrawal notice; this cannot be undone.')) return;
    submit.disabled = true;
    try {
      const view = await postJson(`/v1/cases/${encodeURIComponent(id)}/withdraw`, { reason: reason.input.value }, { key });
      form.reset();
      submit.disabled = false;
      done('The case is withdrawn; open tasks are cancelled and notified partners get a withdrawal notice.', view);
    } catch (err) {
      showProblem(err, alert, (key) => (key === 'reason' || key === 'body' ? reason : null), [reason]);
      submit.disabled = false;
    }
  });
  return h('details', { class: 'action' }, h('summary', {}, 'Withdraw this case'), form);
}

function evidenceForm(id, done) {
  const kind = control('Kind', h('select', { name: 'kind' }, EVIDENCE_KINDS.map((k) => h('option', { value: k }, label(k)))));
  const sha = control('SHA-256 of the item', h('input', { name: 'sha256', autocomplete: 'off', spellcheck: 'false', class: 'mono' }), { hint: '(64 hex characters; leave empty to add URLs only)', name: 'SHA-256' });
  const description = control('Description', h('textarea', { name: 'description', rows: '2', maxlength: '2000' }), { hint: '(optional)' });
  const collectedAt = control('Collected at', h('input', { type: 'datetime-local', name: 'collectedAt', step: '1' }), { hint: zoneHint(true) });
  const collectedBy = control('Collected by', h('input', { name: 'collectedBy', autocomplete: 'off', maxlength: '200' }), { hint: '(optional)' });
  const urls = control('URLs', h('textarea', { name: 'urls', rows: '3', class: 'mono' }), { hint: '(one per line; they reach hosting notices not yet sent: by their host, or by the provider below)' });
  const provider = control('Hosted by', h('input', { name: 'provider', autocomplete: 'off', spellcheck: 'false', maxlength: '64', class: 'mono' }), {
    hint: "(optional: the hosting provider's org id, for URLs on a host the case does not list yet)",
  });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Add to the case');
  // Kept while a submission goes unanswered: pressing again repeats the same request (api.js formKey).
  const key = formKey();
  const item = { kind, sha256: sha, description, collectedAt, collectedBy };
  const controls = [...Object.values(item), urls, provider];
  const form = h('form', { novalidate: true }, controls.map((c) => c.wrap), submit, alert);
  // Error keys: "evidence" (nothing given), "evidence.0.sha256", "evidence.0.description", "urls.3", "hosting.0.provider", "hosting.0.urls.1".
  const find = (key) => {
    if (key === 'evidence' || key === 'body') return sha;
    const field = /^evidence\.\d+\.(\w+)$/.exec(key)?.[1];
    if (field) return item[field] ?? null;
    if (key === 'urls' || key.startsWith('urls.') || /^hosting\.\d+\.urls/.test(key)) return urls;
    if (key.startsWith('hosting')) return provider;
    return null;
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, controls);
    const hash = sha.input.value.trim();
    const extra = {
      description: description.input.value.trim(),
      collectedAt: localInputToIso(collectedAt.input.value),
      collectedBy: collectedBy.input.value.trim(),
    };
    const given = Object.fromEntries(Object.entries(extra).filter(([, v]) => v));
    if (!hash && Object.keys(given).length) {
      fieldProblem(sha, 'is needed for the description and collection details to belong to an item');
      return;
    }
    const listed = lines(urls.input.value);
    const host = provider.input.value.trim();
    if (host && listed.length === 0) {
      fieldProblem(urls, 'needs the URLs that this provider hosts');
      return;
    }
    const body = {
      evidence: hash ? [{ kind: kind.input.value, sha256: hash, ...given }] : [],
      ...(host ? { urls: [], hosting: [{ provider: host, urls: listed }] } : { urls: listed }),
    };
    submit.disabled = true;
    try {
      await postJson(`/v1/cases/${encodeURIComponent(id)}/evidence`, body, { key });
      form.reset();
      submit.disabled = false;
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
    h('p', {}, h('a', { href: `#/tasks?caseId=${encodeURIComponent(c.id)}` }, 'Complete them in My tasks')),
  );
}

export function renderCase(page, { params, identity }) {
  const [id] = params;
  const heading = h('h1', {}, 'Case');
  // The message after an action sits outside the facts, so a reload that redraws them leaves it (and focus on it) alone;
  // it gets focus, which also has screen readers read it.
  const note = h('p', { class: 'notice', hidden: true });
  const head = h('div', { class: 'case-head' });
  // Open exceptions the case lead must resolve: said at the top, since the flow waits on them.
  const attention = h('div', { class: 'attention', role: 'status', hidden: true });
  // A poll that could not read the case says so: what is shown is then as old as the last read that worked.
  const stale = h('p', { class: 'stale', role: 'status', hidden: true });
  let lastRead = null;
  const actions = h('div', { class: 'case-actions' });
  const timelineBody = h('div', { class: 'timeline-body' });
  const timeline = h('section', { class: 'panel', 'aria-labelledby': 'timeline-h', hidden: true }, h('h2', { id: 'timeline-h' }, 'Timeline'), timelineBody);
  const details = h('div', { class: 'case-details' });
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  add(page, 
    h('p', { class: 'crumbs' }, identity.caps.readCases ? h('a', { href: '#/cases' }, '← All cases') : h('a', { href: '#/tasks' }, '← My tasks'), ' ', refresh),
    heading,
    note,
    stale,
    head,
    attention,
    actions,
    timeline,
    details,
  );

  // Only the latest load draws: an older answer (a slow Refresh, a poll) never overwrites a newer one.
  let seq = 0;
  let busy = false;
  // The case as the withdrawal's 202 gave it, until the stored case shows the withdrawal: the workflow answers before
  // its closing write lands, and a read in between would show the case open again, with its forms.
  let withdrawing = null;
  // A load is due soon (a withdrawn case still closing): the next one comes in 2 s, not at the 20 s poll, for up to 30 s
  // (then the poll takes over), and like the poll only while the tab is visible and nothing it would redraw has focus.
  let soon = false;
  let soonLeft = 15;

  async function loadTimeline(c, mine) {
    if (!timelineBody.hasChildNodes()) timelineBody.replaceChildren(loading('Loading tasks'));
    try {
      const tasks = await caseTasks(c);
      if (mine !== seq) return;
      const exceptions = tasks.filter((t) => t.type === 'resolve_exception' && t.status === 'open');
      attention.hidden = exceptions.length === 0;
      fill(
        attention,
        exceptions.map((t) =>
          h(
            'p',
            {},
            h('strong', {}, 'Action needed: '),
            `${t.context?.org ? `${t.context.org}: ` : ''}${label(t.context?.reason ?? 'an exception')} (${dueText(t.dueAt)}). `,
            identity.org === c.org && identity.roles.includes('case_lead')
              ? h('a', { href: `#/tasks?caseId=${encodeURIComponent(c.id)}` }, 'Resolve it in My tasks')
              : 'A case lead of the case org resolves it.',
          ),
        ),
      );
      fill(
        timelineBody,
        h('div', { class: 'timeline-wrap' }, timelineSvg(c, tasks)),
        legend(Boolean(c.closedAt)),
        stepTable(c, tasks),
      );
    } catch (err) {
      if (mine === seq) fill(timelineBody, errorBox(err, 'Loading the tasks'));
    }
  }

  // The case lead's forms are built once and kept: a reload (Refresh, an action, the poll) leaves what is typed in them,
  // and whether they are open, as it was. A form goes only when the case closes.
  const forms = {};
  function keepForm(name, allowed, build) {
    if (allowed && !forms[name]) add(actions, (forms[name] = build()));
    if (!allowed && forms[name]) {
      forms[name].remove();
      delete forms[name];
    }
  }

  /** `message` (after an action) is shown, announced and focused; a poll keeps the message on screen and reports no error. */
  async function load({ message, poll = false } = {}) {
    const mine = ++seq;
    busy = true;
    try {
      await draw(mine, message, poll);
    } finally {
      if (mine === seq) busy = false;
    }
  }

  async function draw(mine, message, poll) {
    if (!poll) {
      note.textContent = message ?? '';
      note.hidden = !message;
      if (message) focusNote(note);
    }
    if (!head.hasChildNodes()) fill(head, loading('Loading the case'));
    let c;
    try {
      c = await getJson(`/v1/cases/${encodeURIComponent(id)}`);
    } catch (err) {
      if (mine !== seq) return;
      // A partner reads a case only while its org holds an open task on it: once the last is done, that is for good.
      if (poll && err instanceof ApiError && err.status === 403 && !identity.caps.readCases) {
        stale.textContent = `Your org no longer holds an open task on this case, so it can no longer be read. Shown as read at ${formatTime(lastRead)}.`;
        stale.hidden = false;
        stopPolling();
        return;
      }
      if (poll) {
        stale.textContent = `Could not refresh: ${describeError(err)}. Shown as read at ${formatTime(lastRead)}; trying again every 20 s.`;
        stale.hidden = false;
        return;
      }
      fill(head, errorBox(err, 'Loading the case'));
      fill(details);
      timeline.hidden = true;
      // No case on screen, no actions on it.
      actions.hidden = true;
      return;
    }
    if (mine !== seq) return;
    if (withdrawing) {
      if (c.withdrawal || !OPEN_STATUSES.includes(c.status)) withdrawing = null;
      else c = { ...withdrawing, temporalUrl: c.temporalUrl };
    }
    lastRead = new Date().toISOString();
    stale.hidden = true;
    actions.hidden = false;
    // A partner's view lists its own open tasks (`tasks`); readers in full get the timeline instead.
    const full = !Array.isArray(c.tasks);
    heading.textContent = `Case ${c.reference}`;
    document.title = `${heading.textContent} · Takedown`;
    fill(
      head,
      facts(c),
      identity.caps.readAudit && full ? h('p', {}, h('a', { href: `#/audit/${encodeURIComponent(c.id)}` }, 'Audit trail of this case')) : null,
    );
    const ownOrg = identity.org === c.org;
    // A withdrawn case still sending its withdrawal notices takes no more actions (the API answers 409).
    const open = OPEN_STATUSES.includes(c.status) && !c.withdrawal;
    const after = (text, view) => {
      if (view?.withdrawal) withdrawing = view;
      void load({ message: text });
    };
    if (c.withdrawal && OPEN_STATUSES.includes(c.status) && !soon && soonLeft > 0) {
      soon = true;
      soonLeft -= 1;
      setTimeout(() => {
        soon = false;
        if (page.isConnected && !busy && pollable()) void load({ poll: true });
      }, 2000);
    }
    keepForm('withdraw', open && ownOrg && identity.caps.withdraw, () => withdrawForm(c.id, after));
    keepForm('evidence', open && ownOrg && identity.caps.addEvidence, () => evidenceForm(c.id, after));
    fill(details, merchantSection(c.merchant, !full), evidenceSection(c.evidence), full ? null : partnerTasks(c));
    timeline.hidden = !full;
    if (full) await loadTimeline(c, mine);
  }

  refresh.addEventListener('click', () => void load());
  // The poll skips a beat while a load runs or while focus is on something it would redraw (a link in the facts).
  const pollable = () => document.visibilityState === 'visible' && ![head, details, timelineBody].some((el) => el.contains(document.activeElement));
  const stopPolling = repeatWhileShown(page, POLL_MS, () => {
    if (!busy && pollable()) void load({ poll: true });
  });
  void load();
}
