// The case board: filters by status, reference and merchant id, counts per status, one row per case with its five-step progress.
import { getJson } from '../api.js';
import { add, fill, h } from '../dom.js';
import { CASE_STATUSES, formatTime, label, overdueSteps } from '../format.js';
import { errorBox, progressBar, repeatWhileShown, statusBadge } from '../widgets.js';

const PAGE_SIZE = 50;
/** How often the board reads its rows and counts again by itself (while the tab is visible). */
const POLL_MS = 20_000;
/** The API's largest page: a board showing more rows than this is not polled. */
const MAX_LIMIT = 200;

function filterForm(status, reference, merchantId) {
  const statusSelect = h(
    'select',
    { id: 'f-status', name: 'status' },
    h('option', { value: '' }, 'Any status'),
    CASE_STATUSES.map((s) => h('option', { value: s, selected: s === status }, label(s))),
  );
  const referenceInput = h('input', { id: 'f-reference', name: 'reference', type: 'search', value: reference, autocomplete: 'off', placeholder: 'EFC-2026-0042' });
  // A merchant id or wallet account id any of the case's payment channels holds: the cases on one merchant account.
  const merchantInput = h('input', { id: 'f-merchant', name: 'merchantId', type: 'search', value: merchantId, autocomplete: 'off', placeholder: '4451200001' });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter cases' },
    h('div', { class: 'field' }, h('label', { for: 'f-status' }, 'Status'), statusSelect),
    h('div', { class: 'field' }, h('label', { for: 'f-reference' }, 'Reference (exact)'), referenceInput),
    h('div', { class: 'field' }, h('label', { for: 'f-merchant' }, 'Merchant id (exact)'), merchantInput),
    h('button', { type: 'submit' }, 'Apply'),
    status || reference || merchantId ? h('a', { href: '#/cases', class: 'button-link' }, 'Clear filters') : null,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (statusSelect.value) q.set('status', statusSelect.value);
    if (referenceInput.value.trim()) q.set('reference', referenceInput.value.trim());
    if (merchantInput.value.trim()) q.set('merchantId', merchantInput.value.trim());
    const qs = q.toString();
    const next = `#/cases${qs ? `?${qs}` : ''}`;
    // The same filters again still reload (hashchange does not fire for an unchanged hash).
    if (location.hash === next) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = next;
  });
  return form;
}

function caseRow(c, identity, now) {
  const late = overdueSteps(c, now);
  return h(
    'tr',
    { class: late.length ? 'overdue' : null, 'data-case-id': c.id },
    h('th', { scope: 'row' }, h('a', { href: `#/cases/${encodeURIComponent(c.id)}` }, c.reference)),
    h('td', {}, statusBadge(c.status)),
    h('td', {}, progressBar(c.steps)),
    h('td', {}, label(c.priority)),
    h('td', {}, c.jurisdiction),
    h('td', {}, h('time', { datetime: c.createdAt }, formatTime(c.createdAt))),
    h('td', {}, late.length ? h('span', { class: 'flag-overdue' }, `Overdue: ${late.map((s) => s.name).join(', ')}`) : ''),
    identity.caps.readAudit ? h('td', {}, h('a', { href: `#/audit/${encodeURIComponent(c.id)}` }, 'Audit')) : null,
  );
}

export function renderBoard(page, { query, identity }) {
  add(page, h('h1', {}, 'Cases'));
  if (!identity.caps.readCases) {
    add(page, h('p', {}, 'Your roles do not read cases. Your work is under ', h('a', { href: '#/tasks' }, 'My tasks'), '.'));
    return;
  }
  const status = query.get('status') ?? '';
  const reference = query.get('reference') ?? '';
  const merchantId = query.get('merchantId') ?? '';
  const counts = h('div', { class: 'counts', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'cases' },
    h('caption', { class: 'visually-hidden' }, 'Cases, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Reference', 'Status', 'Progress', 'Priority', 'Jurisdiction', 'Created', 'Attention'].map((t) => h('th', { scope: 'col' }, t)),
        identity.caps.readAudit ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Audit')) : null,
      ),
    ),
    tbody,
  );
  const slot = h('div', { class: 'list-status', role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  add(
    page,
    identity.caps.createCase ? h('p', { class: 'actions' }, h('a', { href: '#/cases/new', class: 'button-link' }, 'New case')) : null,
    filterForm(status, reference, merchantId),
    h('section', { class: 'panel', 'aria-labelledby': 'counts-h' }, h('h2', { id: 'counts-h' }, 'Counts by status'), counts),
    h('div', { class: 'table-wrap' }, table),
    slot,
    more,
  );

  let shown = 0;
  let cursor = null;
  let countsShown = null;
  // Only the latest request draws: a poll that answers after "Load more" started is dropped.
  let seq = 0;
  let busy = false;

  // The API counts over everything the caller may read, whatever the filters: the summary stays put while the table narrows.
  function renderCounts(tally) {
    const entries = CASE_STATUSES.filter((s) => tally[s]);
    fill(
      counts,
      entries.length === 0
        ? h('p', {}, 'No cases.')
        : h(
            'ul',
            { class: 'count-list' },
            entries.map((s) =>
              h('li', {}, h('a', { href: `#/cases?status=${s}`, class: `count status-${s}`, 'aria-label': `${tally[s]} ${label(s)}` }, h('strong', {}, String(tally[s])), ' ', label(s))),
            ),
          ),
      status || reference || merchantId ? h('p', { class: 'help' }, 'All the cases you may read, not only those matching the filters.') : null,
    );
  }

  /** Draws a page of cases: added under the rows shown, or (a poll) in their place. Unchanged counts and status stay as they are. */
  function draw(res, replace) {
    const now = Date.now();
    const rows = res.items.map((c) => caseRow(c, identity, now));
    if (replace) tbody.replaceChildren(...rows);
    else add(tbody, ...rows);
    shown = (replace ? 0 : shown) + res.items.length;
    cursor = res.nextCursor ?? null;
    more.hidden = !cursor;
    const tally = JSON.stringify(res.counts);
    if (tally !== countsShown) renderCounts(res.counts);
    countsShown = tally;
    const text = shown ? `Showing ${shown} case${shown === 1 ? '' : 's'}${cursor ? '; more available' : ''}.` : 'No cases match.';
    if (slot.textContent !== text) fill(slot, text);
  }

  /** `focusNew` ("Load more"): focus moves to the first row added, since the button may be gone (the last page). */
  async function loadPage({ focusNew = false } = {}) {
    const mine = ++seq;
    busy = true;
    more.disabled = true;
    fill(slot, 'Loading cases…');
    try {
      const before = shown;
      draw(await getJson('/v1/cases', { status, reference, merchantId, limit: PAGE_SIZE, cursor }), false);
      if (focusNew) tbody.children[before]?.querySelector('a')?.focus();
    } catch (err) {
      fill(slot, errorBox(err, 'Loading cases'));
    } finally {
      more.disabled = false;
      if (mine === seq) busy = false;
    }
  }

  // The same rows again, from the top; skipped while focus is in the table or on "Load more" (redrawing would drop it).
  async function poll() {
    const mine = ++seq;
    busy = true;
    try {
      const res = await getJson('/v1/cases', { status, reference, merchantId, limit: Math.max(PAGE_SIZE, shown) });
      if (mine === seq) draw(res, true);
    } catch {
      // A failed poll leaves the board as it was; the next one, or a reload, tries again.
    } finally {
      if (mine === seq) busy = false;
    }
  }

  more.addEventListener('click', () => void loadPage({ focusNew: true }));
  repeatWhileShown(page, POLL_MS, () => {
    if (!busy && shown <= MAX_LIMIT && ![table, more].some((el) => el.contains(document.activeElement))) void poll();
  });
  void loadPage();
}
