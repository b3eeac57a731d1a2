// The task inbox: the caller's open tasks, most overdue first, each with a form for its outcome and the API's field errors beside the fields.
import { ApiError, describeError, formKey, getEach, getJson, postJson, request } from '../api.js';
import { add, fill, h, uid } from '../dom.js';
import { clearProblem, control, fieldProblem, focusNote, showProblem } from '../forms.js';
import { dueText, formatTime, isOverdue, label, localInputToIso, nowLocalInput, zoneHint } from '../format.js';
import { DATA_FIELDS, PARTNER_TASK_TYPES, TASK_TYPES, taskTitle } from '../outcomes.js';
import { errorBox, loadButton, repeatWhileShown } from '../widgets.js';

const PAGE_SIZE = 100;
/** How often the inbox looks for tasks that came or went since it was read (while the tab is visible). */
const POLL_MS = 20_000;
/** The API's largest page: an inbox showing more tasks than this only takes new ones in by a reload. */
const MAX_LIMIT = 200;

/** The API's decimal amount: digits, optionally a point and more digits ("1250.00"); no sign, blanks, hex or exponent. */
const DECIMAL = /^\d+(?:\.\d+)?$/;

/** A data field's value for the API, or { error } for one the API would refuse. Decimals go as the exact string typed. */
function fieldValue(name, input) {
  const spec = DATA_FIELDS[name];
  const raw = input.value.trim();
  if (raw === '') return undefined;
  if (spec.kind === 'datetime') return localInputToIso(raw);
  if (spec.kind === 'decimal') return DECIMAL.test(raw) ? raw : { error: 'must be a plain decimal number such as 1250.00, with no sign, spaces or exponent' };
  // ISO 4217 codes are upper-case; "eur" is what was meant.
  if (name === 'currency') return raw.toUpperCase();
  return raw;
}

function taskForm(task, onDone) {
  const spec = TASK_TYPES[task.type];
  if (!spec) return h('p', {}, `This console has no form for task type ${task.type}; complete it through the API.`);
  const outcomes = Object.keys(spec.outcomes);
  const group = uid('outcome');
  const radios = outcomes.map((o) => h('input', { type: 'radio', name: group, id: `${group}-${o}`, value: o }));
  const outcomeError = h('p', { class: 'field-error', id: `${group}-err` });
  const fieldset = h(
    'fieldset',
    { 'aria-describedby': `${group}-err` },
    h('legend', {}, 'Outcome'),
    h(
      'div',
      { class: 'radios' },
      outcomes.map((o, i) => h('span', { class: 'radio' }, radios[i], h('label', { for: radios[i].id }, label(o), spec.outcomes[o].help ? h('span', { class: 'help' }, ` (${spec.outcomes[o].help})`) : null))),
    ),
    outcomeError,
  );
  const outcomeControl = {
    input: radios[0],
    setError(message) {
      outcomeError.textContent = message ? `Outcome ${message}` : '';
    },
  };

  const dataNames = [...new Set(outcomes.flatMap((o) => spec.outcomes[o].data ?? []))];
  const dataControls = Object.fromEntries(
    dataNames.map((name) => {
      const f = DATA_FIELDS[name];
      const input = h('input', {
        id: uid(name),
        name,
        type: f.kind === 'datetime' ? 'datetime-local' : 'text',
        inputmode: f.kind === 'decimal' ? 'decimal' : null,
        autocomplete: 'off',
        value: f.prefillNow ? nowLocalInput() : null,
        step: f.kind === 'datetime' ? '1' : null,
      });
      const c = control(f.label, input, { name: f.label.replace(/ \(.*\)$/, ''), ...(f.kind === 'datetime' ? { hint: zoneHint() } : {}) });
      c.wrap.hidden = true;
      return [name, c];
    }),
  );
  const needComment = outcomes.filter((o) => spec.outcomes[o].comment);
  const comment = control('Comment', h('textarea', { name: 'comment', rows: '2', maxlength: '4000' }), {
    hint: needComment.length ? `(required for ${needComment.map(label).join(', ')})` : '(optional)',
  });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Complete task');
  // Kept while a submission goes unanswered: pressing again repeats the same request (api.js formKey).
  const key = formKey();
  const form = h('form', { class: 'task-form', novalidate: true }, fieldset, Object.values(dataControls).map((c) => c.wrap), comment.wrap, submit, alert);

  const selected = () => radios.find((r) => r.checked)?.value ?? '';
  form.addEventListener('change', (event) => {
    if (!radios.includes(event.target)) return;
    const used = spec.outcomes[selected()]?.data ?? [];
    for (const [name, c] of Object.entries(dataControls)) c.wrap.hidden = !used.includes(name);
  });

  const controls = [outcomeControl, comment, ...Object.values(dataControls)];
  // Error keys: "outcome", "comment", "data.<field>"; a data field of another outcome than the chosen one is not on screen.
  const find = (key) => {
    if (key === 'outcome') return outcomeControl;
    if (key === 'comment') return comment;
    const c = key.startsWith('data.') ? dataControls[key.slice(5)] : undefined;
    return c && !c.wrap.hidden ? c : null;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, controls);
    const outcome = selected();
    if (!outcome) {
      outcomeError.textContent = 'Choose an outcome';
      radios[0].focus();
      return;
    }
    const data = {};
    for (const name of spec.outcomes[outcome].data ?? []) {
      const v = fieldValue(name, dataControls[name].input);
      if (v?.error) {
        fieldProblem(dataControls[name], v.error);
        return;
      }
      if (v !== undefined) data[name] = v;
    }
    const body = { outcome, data };
    if (comment.input.value.trim()) body.comment = comment.input.value.trim();
    const question = spec.outcomes[outcome].confirm;
    if (question && body.comment && !window.confirm(question)) return;
    submit.disabled = true;
    try {
      const done = await postJson(`/v1/tasks/${encodeURIComponent(task.id)}/complete`, body, { key });
      onDone(done);
    } catch (err) {
      showProblem(err, alert, find, controls);
      // A task no longer open stays closed: the form is of no further use.
      submit.disabled = err instanceof ApiError && err.status === 409;
    }
  });
  return form;
}

/** A value of a task's context, nested objects as nested lists, empty lists as "none"; overlapping cases link to their pages. */
function contextValue(v, key) {
  if (key === 'overlappingCases' && Array.isArray(v) && v.length) return v.map((id, i) => [i ? ', ' : '', h('a', { href: `#/cases/${encodeURIComponent(id)}` }, String(id))]);
  if (Array.isArray(v) && v.some((x) => typeof x === 'object' && x !== null)) {
    // Lists of records (the accounts a freeze covers): one line each, "kind card · scheme visa · merchant id 4451200001".
    const line = (x) => (typeof x === 'object' && x !== null ? Object.entries(x).map(([k, val]) => `${label(k)} ${typeof val === 'object' ? JSON.stringify(val) : val}`).join(' · ') : String(x));
    return h('ul', { class: 'plain' }, v.map((x) => h('li', {}, line(x))));
  }
  if (Array.isArray(v)) return v.length ? v.map(String).join(', ') : 'none';
  if (typeof v === 'object' && v !== null) return contextList(v);
  return String(v);
}

function contextList(context) {
  const entries = Object.entries(context ?? {}).filter(([, v]) => v !== null && v !== undefined);
  if (entries.length === 0) return null;
  return h('dl', { class: 'context' }, entries.flatMap(([k, v]) => [h('dt', {}, label(k)), h('dd', {}, contextValue(v, k))]));
}

/** Partner tasks: each asks its org by a formal request (a notice's document), which the org reads here, webhook or not. */
const REQUEST_TASKS = new Set(PARTNER_TASK_TYPES);

/**
 * The formal request behind a partner task (GET /v1/tasks/:id/document), shown on demand: what the org is asked, with
 * the merchant's details its case view leaves out, and the SHA-256 the case's audit chain recorded for it. An org
 * without a webhook is sent no notice, so this is where it reads the request.
 */
function requestSection(task) {
  const body = h('div', { class: 'request-body' });
  const load = loadButton('Show the request', 'Loading the request', body, async () => {
    const d = await getJson(`/v1/tasks/${encodeURIComponent(task.id)}/document`);
    fill(
      body,
      h(
        'p',
        { class: 'document-check' },
        `${label(d.type)}, issued `,
        h('time', { datetime: d.renderedAt }, formatTime(d.renderedAt)),
        '; SHA-256 recorded in the case\'s audit chain: ',
        h('code', { class: 'hash' }, d.documentHash),
      ),
      h('pre', { class: 'document-json' }, JSON.stringify(d.document, null, 2)),
    );
  });
  return h('div', { class: 'request' }, load, body);
}

const fourEyesNote = (text) => h('p', { class: 'four-eyes' }, text);

function taskCard(task, identity, announce, now, onCompleted) {
  const headingId = uid('task');
  const overdue = isOverdue(task.dueAt, now);
  const card = h('article', {
    class: `task-card${overdue ? ' overdue' : ''}`,
    'aria-labelledby': headingId,
    'data-task-id': task.id,
    'data-task-type': task.type,
    // The inbox's order key (deadline, none last): a task that comes in by a poll takes its place among the cards.
    'data-due': task.dueAt ?? '9999-12-31T23:59:59.999Z',
  });
  const caseLink = identity.caps.readCases || identity.roles.includes('partner') ? h('a', { href: `#/cases/${encodeURIComponent(task.caseId)}` }, task.caseId) : task.caseId;
  add(card, 
    h('h2', { id: headingId }, taskTitle(task.type)),
    h(
      'dl',
      { class: 'meta' },
      h('dt', {}, 'Case'),
      // Filled in once the case is read (describeCases): its reference, merchant and priority tell cards apart.
      h('dd', {}, caseLink, h('span', { class: 'case-summary', 'data-case-id': task.caseId })),
      h('dt', {}, 'Opened'),
      h('dd', {}, h('time', { datetime: task.createdAt }, formatTime(task.createdAt))),
      h('dt', {}, 'Deadline'),
      h('dd', { class: overdue ? 'late' : null }, task.dueAt ? [h('time', { datetime: task.dueAt }, formatTime(task.dueAt)), ` (${dueText(task.dueAt, now)})`] : 'none'),
      h('dt', {}, 'Assigned to'),
      h('dd', {}, `${task.assignee.org} · ${label(task.assignee.role)}`, task.escalated ? h('span', { class: 'badge escalated' }, 'escalated') : null),
    ),
    contextList(task.context),
    REQUEST_TASKS.has(task.type) ? requestSection(task) : null,
  );
  // Four eyes: whoever verified a case may not sign it off. Said on the card, before anyone fills the form in vain.
  if (task.type === 'le_signoff' && task.context?.verifiedBy === identity.id) {
    add(card, fourEyesNote('You verified this case: another officer must sign it off (four eyes).'));
    return card;
  }
  const form = taskForm(task, (done) => {
    const note = h('p', { class: 'done-note' }, `Completed: ${label(done.outcome)}.`);
    form.replaceWith(note);
    focusNote(note);
    card.classList.remove('overdue');
    card.classList.add('completed');
    announce(`${taskTitle(task.type)} on ${task.caseId} completed: ${label(done.outcome)}.`);
    onCompleted(card);
  });
  add(card, form);
  return card;
}

/**
 * Reads each case the cards name (a few at a time, once per case) and writes its reference, merchant and priority on its
 * cards; a verify_evidence card also lists the evidence to check. A case that cannot be read leaves its cards as they are.
 */
async function describeCases(list, tasks, known, identity) {
  const ids = [...new Set(tasks.map((t) => t.caseId))].filter((id) => !known.has(id));
  const path = (id) => `/v1/cases/${encodeURIComponent(id)}`;
  const answers = await getEach(ids.map(path));
  for (const id of ids) known.set(id, answers.get(path(id)));
  for (const t of tasks) {
    const c = known.get(t.caseId);
    const card = list.querySelector(`article[data-task-id="${CSS.escape(t.id)}"]`);
    if (!c || !card) continue;
    // Four eyes: whoever opened a case may neither verify nor sign it off. Known once the case is read, so the form
    // goes then, before anyone fills it in for a 403.
    if ((t.type === 'verify_evidence' || t.type === 'le_signoff') && c.createdBy === identity.id && !card.classList.contains('completed')) {
      const form = card.querySelector('form.task-form');
      if (form) form.replaceWith(fourEyesNote('You opened this case: another person must do this (four eyes).'));
    }
    const urgent = c.priority === 'high' || c.priority === 'critical';
    fill(card.querySelector('.case-summary'), ` · ${c.reference} · ${c.merchant?.name ?? ''} · `, h(urgent ? 'strong' : 'span', {}, `priority ${label(c.priority)}`));
    if (t.type === 'verify_evidence' && Array.isArray(c.evidence) && !card.querySelector('.evidence-list')) {
      const items = c.evidence.map((e) => h('li', {}, `${label(e.kind)} `, h('code', { class: 'hash full' }, e.sha256), e.description ? ` · ${e.description}` : ''));
      card.querySelector('dl.meta')?.after(h('div', { class: 'evidence-list' }, h('p', { class: 'help' }, 'Evidence to check:'), h('ul', { class: 'plain' }, items)));
    }
  }
}

export function renderInbox(page, { identity, query: route }) {
  // `#/tasks?caseId=…` (a case page's "resolve it" link): only that case's tasks, so the one meant is on screen.
  const caseId = route?.get('caseId') || undefined;
  const announcer = h('p', { class: 'visually-hidden', role: 'status' });
  const list = h('div', { class: 'task-list' });
  const slot = h('div', { class: 'list-status', role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  add(page, 
    h('h1', {}, 'My tasks'),
    h(
      'p',
      { class: 'lead' },
      caseId
        ? [`Open tasks on case ${caseId} for ${identity.org} that your roles may act on. `, h('a', { href: '#/tasks' }, 'All my tasks')]
        : `Open tasks for ${identity.org} that your roles may act on, the most overdue first.`,
    ),
    announcer,
    slot,
    list,
    more,
  );
  const stale = h('p', { class: 'stale', role: 'status', hidden: true });
  slot.after(stale);
  let cursor = null;
  let count = 0;
  let busy = false;
  /** The last poll's query and the ETag of its answer, for the next poll's If-None-Match. */
  let lastPoll = null;
  const known = new Map();
  const announce = (text) => (announcer.textContent = text);
  const readsCases = identity.caps.readCases || identity.roles.includes('partner');
  const cards = () => [...list.querySelectorAll('article.task-card')];
  const summary = () => (count ? `${count} open task${count === 1 ? '' : 's'}${cursor ? ' loaded; more available' : ''}.` : 'No open tasks. Nothing is waiting on you.');
  // A task completed on this page is open no more: the count says so at once, not only after the next poll.
  const completedHere = (card) => {
    // A poll that came between the server's commit and this answer has counted it closed already.
    if (card.classList.contains('gone')) return;
    count -= 1;
    fill(slot, summary());
  };

  /** `focusNew` ("Load more"): focus moves to the first card added, since the button may be gone (the last page). */
  async function loadPage({ focusNew = false } = {}) {
    busy = true;
    more.disabled = true;
    fill(slot, 'Loading tasks…');
    try {
      // The server orders by deadline (the most overdue first, no deadline last) across pages, so "Load more" only appends.
      const res = await getJson('/v1/tasks', { status: 'open', sort: 'due', caseId, limit: PAGE_SIZE, cursor });
      const now = Date.now();
      count += res.items.length;
      const added = res.items.map((t) => taskCard(t, identity, announce, now, completedHere));
      add(list, ...added);
      const heading = focusNew ? added[0]?.querySelector('h2') : null;
      if (heading) focusNote(heading);
      if (readsCases) void describeCases(list, res.items, known, identity);
      cursor = res.nextCursor ?? null;
      more.hidden = !cursor;
      fill(slot, summary());
    } catch (err) {
      fill(slot, errorBox(err, 'Loading tasks'));
    } finally {
      more.disabled = false;
      busy = false;
    }
  }

  /**
   * Reads the open tasks again: one that came in takes its place among the cards; a card whose task is no longer open
   * (completed by a colleague, cancelled with its case) says so and takes no answer, but stays where it is, so nobody's
   * half-filled form moves or vanishes under them. A poll that cannot reach the API says so and keeps the cards.
   */
  async function poll() {
    busy = true;
    try {
      const shown = cards().length;
      const query = { status: 'open', sort: 'due', caseId, limit: Math.min(MAX_LIMIT, Math.max(PAGE_SIZE, shown)) };
      // Asked conditionally: while nothing changed in the inbox the API answers 304 with no body, and nothing is redrawn.
      const asked = JSON.stringify(query);
      const answer = await request('/v1/tasks', { query, headers: lastPoll?.asked === asked ? { 'If-None-Match': lastPoll.etag } : {} });
      stale.hidden = true;
      if (answer.status === 304) return;
      const res = await answer.json();
      // Kept only for an answer read whole: a body lost on the way must not make the next poll's 304 stand for it.
      const etag = answer.headers.get('ETag');
      lastPoll = etag ? { asked, etag } : null;
      const now = Date.now();
      const onScreen = new Set(cards().map((c) => c.dataset.taskId));
      const open = new Set(res.items.map((t) => t.id));
      // A task past the page read is not known to be closed: only a read of every open task tells.
      const complete = !res.nextCursor;
      let closed = 0;
      for (const card of cards()) {
        if (!complete || open.has(card.dataset.taskId) || card.classList.contains('completed') || card.classList.contains('gone')) continue;
        card.classList.add('gone');
        card.classList.remove('overdue');
        const note = h('p', { class: 'gone-note' }, 'No longer open: completed or cancelled elsewhere. Nothing more to do here.');
        card.querySelector('h2')?.after(note);
        for (const el of card.querySelectorAll('form button, form input, form textarea')) el.disabled = true;
        closed += 1;
        count -= 1;
      }
      // Only tasks that belong among what is shown (a later page's come with "Load more").
      const lastDue = cursor ? cards().at(-1)?.dataset.due : undefined;
      const fresh = res.items.filter((t) => !onScreen.has(t.id) && (!lastDue || (t.dueAt ?? '9999-12-31T23:59:59.999Z') <= lastDue));
      for (const t of fresh) {
        const card = taskCard(t, identity, announce, now, completedHere);
        const before = cards().find((c) => c.dataset.due > card.dataset.due);
        if (before) before.before(card);
        else list.append(card);
      }
      count += fresh.length;
      if (fresh.length && readsCases) void describeCases(list, fresh, known, identity);
      if (fresh.length || closed) {
        fill(slot, summary());
        announce([fresh.length ? `${fresh.length} new task${fresh.length === 1 ? '' : 's'}` : '', closed ? `${closed} no longer open` : ''].filter(Boolean).join('; ') + '.');
      }
    } catch (err) {
      stale.textContent = `Could not refresh: ${describeError(err)}. The tasks are shown as last read; trying again every 20 s.`;
      stale.hidden = false;
    } finally {
      busy = false;
    }
  }

  more.addEventListener('click', () => void loadPage({ focusNew: true }));
  repeatWhileShown(page, POLL_MS, () => {
    if (!busy) void poll();
  });
  void loadPage();
}
