// The audit page: a case's hash chain, its "intact" or "broken at entry N" badge, the NDJSON export, and the link to the workflow in the Temporal UI.
import { getJson, request } from '../api.js';
import { add, fill, h } from '../dom.js';
import { clearProblem, control, showProblem } from '../forms.js';
import { formatTime, localInputToIso, shortHash } from '../format.js';
import { errorBox, loading, section, statusBadge } from '../widgets.js';

/** Where the API does not say (case views carry temporalUrl when it knows the Temporal UI), the dev server's default UI. */
function temporalLink(c) {
  return c.temporalUrl ?? `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(`takedown-${c.id}`)}`;
}

function badge(v) {
  return v.intact
    ? h('p', { class: 'chain-badge intact', 'data-intact': 'true' }, h('strong', {}, '✓ Intact'), ` · ${v.entries} entries · head `, h('code', { title: v.head ?? '' }, shortHash(v.head)))
    : h('p', { class: 'chain-badge broken', 'data-intact': 'false' }, h('strong', {}, `✗ Broken at entry ${v.firstBadSeq}`), ` · ${v.entries} entries stored`);
}

function dataCell(data) {
  const text = JSON.stringify(data ?? {});
  if (text.length <= 90) return h('code', { class: 'data' }, text);
  return h('details', {}, h('summary', {}, h('code', { class: 'data' }, `${text.slice(0, 80)}…`)), h('pre', {}, JSON.stringify(data, null, 2)));
}

function entriesTable(entries) {
  return h(
    'table',
    { class: 'audit' },
    h('caption', { class: 'visually-hidden' }, 'Audit entries, oldest first'),
    h('thead', {}, h('tr', {}, ['#', 'Time', 'Actor', 'Action', 'Data', 'Hash'].map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      {},
      entries.map((e) =>
        h(
          'tr',
          { 'data-seq': String(e.seq) },
          h('th', { scope: 'row' }, String(e.seq)),
          h('td', {}, h('time', { datetime: e.at }, formatTime(e.at))),
          h('td', {}, e.actor ? `${e.actor.org}/${e.actor.id}` : 'system'),
          h('td', {}, h('code', {}, e.action)),
          h('td', {}, dataCell(e.data)),
          h('td', {}, h('code', { class: 'hash', title: `hash ${e.hash}\nprevious ${e.prevHash}` }, shortHash(e.hash))),
        ),
      ),
    ),
  );
}

function exportForm() {
  const from = control('From', h('input', { type: 'datetime-local', name: 'from', step: '1' }), { hint: '(optional)' });
  const to = control('To', h('input', { type: 'datetime-local', name: 'to', step: '1' }), { hint: '(optional)' });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const status = h('p', { role: 'status', class: 'help' });
  const submit = h('button', { type: 'submit' }, 'Download NDJSON');
  const form = h('form', { class: 'inline-form', novalidate: true }, from.wrap, to.wrap, submit, alert, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, [from, to]);
    status.textContent = 'Exporting…';
    submit.disabled = true;
    try {
      // A plain link cannot carry the bearer header: fetch, then hand the browser a Blob to save.
      const res = await request('/v1/audit/export', {
        query: { from: localInputToIso(from.input.value), to: localInputToIso(to.input.value) },
        accept: 'application/x-ndjson',
      });
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `takedown-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson`, hidden: true });
      add(document.body, a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      const lines = (await blob.text()).split('\n').filter(Boolean).length;
      status.textContent = `Exported ${lines} entr${lines === 1 ? 'y' : 'ies'} (${blob.size} bytes).`;
    } catch (err) {
      status.textContent = '';
      showProblem(err, alert, (key) => (key === 'from' ? from : key === 'to' ? to : null), [from, to]);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function renderAudit(page, { params, identity }) {
  const [id] = params;
  const heading = h('h1', {}, 'Audit trail');
  add(page, h('p', { class: 'crumbs' }, h('a', { href: `#/cases/${encodeURIComponent(id)}` }, '← Case page')), heading);
  if (!identity.caps.readAudit) {
    add(page, h('p', { class: 'error-box' }, 'Audit trails are open to auditors and to the case leads of the case’s org; your roles are neither.'));
    return;
  }
  const head = h('div', { class: 'case-head' });
  const chain = h('div', { class: 'chain', 'aria-live': 'polite' });
  const entries = h('div', { class: 'table-wrap' });
  add(page, 
    head,
    identity.caps.verifyAudit ? section('verify-h', 'Chain verification', chain) : null,
    section('entries-h', 'Entries', entries),
    identity.caps.exportAudit ? section('export-h', 'Export (all cases)', h('p', { class: 'help' }, 'Every audit entry in the range, one JSON object per line.'), exportForm()) : null,
  );

  void (async () => {
    head.replaceChildren(loading('Loading the case'));
    try {
      const c = await getJson(`/v1/cases/${encodeURIComponent(id)}`);
      heading.textContent = `Audit trail of ${c.reference}`;
      document.title = `${heading.textContent} · Takedown`;
      fill(
        head,
        h(
          'p',
          { class: 'case-line' },
          statusBadge(c.status),
          ' ',
          h('code', {}, c.id),
          ' · ',
          h('a', { href: temporalLink(c), target: '_blank', rel: 'noopener noreferrer', class: 'temporal-link' }, 'Workflow in the Temporal UI', h('span', { class: 'visually-hidden' }, ' (opens in a new tab)')),
        ),
      );
    } catch (err) {
      fill(head, errorBox(err, 'Loading the case'));
    }
  })();

  const verified = identity.caps.verifyAudit
    ? (async () => {
        chain.replaceChildren(loading('Verifying the chain'));
        try {
          const v = await getJson(`/v1/cases/${encodeURIComponent(id)}/audit/verify`);
          fill(chain, badge(v));
          return v;
        } catch (err) {
          fill(chain, errorBox(err, 'Verifying the chain'));
          return null;
        }
      })()
    : Promise.resolve(null);

  void (async () => {
    entries.replaceChildren(loading('Loading entries'));
    try {
      const res = await getJson(`/v1/cases/${encodeURIComponent(id)}/audit`);
      fill(entries, res.entries.length ? entriesTable(res.entries) : h('p', {}, 'No entries.'));
      const v = await verified;
      // The first bad entry and everything after it is no longer backed by the chain.
      if (v && !v.intact && v.firstBadSeq !== null) {
        for (const tr of entries.querySelectorAll('tr[data-seq]')) if (Number(tr.dataset.seq) >= v.firstBadSeq) tr.classList.add('bad');
      }
    } catch (err) {
      fill(entries, errorBox(err, 'Loading entries'));
    }
  })();
}
