// The audit page: a case's hash chain, its "intact" or "broken at entry N" badge with what verification found, the workflow's
// event history (each archive beside the hash the chain recorded), the NDJSON export, the chain heads to save and check
// later, and the link to the workflow in the Temporal UI.
import { ApiError, getEach, getJson, postJson, request } from '../api.js';
import { add, fill, h } from '../dom.js';
import { clearProblem, control, fieldProblem, focusNote, showProblem } from '../forms.js';
import { formatTime, localInputToIso, shortHash, zoneHint } from '../format.js';
import { errorBox, loadButton, loading, section, statusBadge } from '../widgets.js';

/**
 * The case's workflow in the Temporal UI, where the API knows that UI (case views carry temporalUrl then: TEMPORAL_UI_URL,
 * or the embedded dev server's); otherwise a note, not a guess at an address that would be wrong outside development.
 */
function temporalLink(c) {
  if (!c.temporalUrl) return h('span', { class: 'hint temporal-link' }, 'Temporal UI: not configured (TEMPORAL_UI_URL)');
  return h('a', { href: c.temporalUrl, target: '_blank', rel: 'noopener noreferrer', class: 'temporal-link' }, 'Workflow in the Temporal UI', h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'));
}

/**
 * The verification's badge and, when it is not intact, what it found (`problems`, in the API's words). "Broken at entry N"
 * only where the chain's own entries fail (`entriesBadFrom`); when they hold but an archive or a document they record
 * does not, the badge says that instead of suggesting the entries were changed.
 */
function verification(v) {
  if (v.intact) {
    return h('p', { class: 'chain-badge intact', 'data-intact': 'true' }, h('strong', {}, '✓ Intact'), ` · ${v.entries} entries · head `, h('code', { title: v.head ?? '' }, shortHash(v.head)));
  }
  const badge =
    v.entriesBadFrom === null
      ? h('p', { class: 'chain-badge broken', 'data-intact': 'false' }, h('strong', {}, '✗ Evidence altered or missing'), ` · the ${v.entries} entries hold, not what they record`)
      : h('p', { class: 'chain-badge broken', 'data-intact': 'false' }, h('strong', {}, `✗ Broken at entry ${v.entriesBadFrom}`), ` · ${v.entries} entries stored`);
  const problems = v.problems ?? [];
  return [badge, problems.length ? h('ul', { class: 'chain-problems', 'aria-label': 'What verification found' }, problems.map((p) => h('li', {}, p))) : null];
}

function dataCell(data) {
  const text = JSON.stringify(data ?? {});
  if (text.length <= 90) return h('code', { class: 'data' }, text);
  return h('details', {}, h('summary', {}, h('code', { class: 'data' }, `${text.slice(0, 80)}…`)), h('pre', {}, JSON.stringify(data, null, 2)));
}

/**
 * An entry's actor: the principal's name where the caller may read principals (auditors), then its org and id, which
 * are what the chain records and hashes. A revoked principal says so; an id not found (the admin token) stays as it is.
 */
function actorCell(actor, principals) {
  if (!actor) return 'system';
  const who = `${actor.org}/${actor.id}`;
  const p = principals?.get(actor.id);
  if (!p) return who;
  return h('span', { class: 'actor' }, p.name, p.revokedAt ? ' (revoked)' : '', h('br'), h('code', { class: 'actor-id' }, who));
}

/**
 * Who the entries' actors are (id → { name, revokedAt }), read one principal at a time (a few at once; the list of all
 * principals is the admin's), or null when the caller may not read principals. An actor that cannot be read (the admin
 * token, a failed read) is left out: its org and id still name it.
 */
async function principalNames(identity, entries) {
  if (!identity.caps.readPrincipals) return null;
  const ids = [...new Set(entries.map((e) => e.actor?.id).filter((id) => id && id !== 'admin'))];
  const path = (id) => `/v1/principals/${encodeURIComponent(id)}`;
  const answers = await getEach(ids.map(path));
  const names = new Map();
  for (const id of ids) {
    const p = answers.get(path(id));
    if (p) names.set(id, { name: p.name, revokedAt: p.revokedAt ?? null });
  }
  return names;
}

function entriesTable(entries, principals) {
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
          h('td', {}, actorCell(e.actor, principals)),
          h('td', {}, h('code', {}, e.action)),
          h('td', {}, dataCell(e.data)),
          // The full hashes open from the short one (keyboard and screen readers reach a summary; text in a tooltip they do
          // not), to be read or copied and compared with the next entry's link.
          h(
            'td',
            {},
            h(
              'details',
              { class: 'hashes' },
              h('summary', {}, h('code', { class: 'hash' }, shortHash(e.hash)), h('span', { class: 'visually-hidden' }, ` full hashes of entry ${e.seq}`)),
              h('p', {}, 'hash ', h('code', { class: 'hash full' }, e.hash)),
              h('p', {}, 'previous ', h('code', { class: 'hash full' }, e.prevHash)),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Saves `blob` as a file through a temporary link (a plain link cannot carry the bearer header, so the page fetched it). */
function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  add(document.body, a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * The hash the chain's history.archived entry recorded for an archived run (nothing for a run read live from Temporal),
 * and whether the archive still matches it: when it does not (`intact` false), a warning, so an altered archive is not
 * taken for the history the chain vouches for.
 */
function recordedCell(r) {
  if (r.intact === undefined) return '—';
  return [
    r.recordedSha256 ? h('code', { class: 'hash' }, r.recordedSha256) : 'none: the chain holds no history.archived entry for this run',
    r.intact
      ? h('span', { class: 'hash-match' }, '✓ the archive matches it')
      : h('strong', { class: 'hash-mismatch' }, '⚠ Mismatch: this archive is not the history the chain recorded; it was altered or replaced.'),
  ];
}

/** The Temporal event history of the case's workflow run(s), loaded on demand (it can be large), with the JSON to save. */
function historySection(id) {
  const body = h('div', { class: 'history-body' });
  let json = null;
  const download = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Download history JSON');
  download.addEventListener('click', () => saveBlob(new Blob([json], { type: 'application/json' }), `takedown-history-${id}.json`));
  const load = loadButton(
    'Load history',
    'Loading the history',
    body,
    async () => {
      json = await (await request(`/v1/cases/${encodeURIComponent(id)}/history`)).text();
      const history = JSON.parse(json);
      const archived = history.source === 'archive';
      fill(
        body,
        h(
          'p',
          { class: 'history-summary', role: 'status' },
          'Source: ',
          h('strong', {}, archived ? 'archive' : 'temporal'),
          archived ? ' (kept in PostgreSQL since the case closed)' : ' (read live from Temporal)',
          ` · ${history.runs.length} run${history.runs.length === 1 ? '' : 's'}`,
        ),
        h(
          'table',
          { class: 'audit history' },
          h('caption', { class: 'visually-hidden' }, 'Workflow runs, oldest first'),
          h('thead', {}, h('tr', {}, ['Run', 'Events', 'Archived', 'SHA-256 of the archive', 'SHA-256 the chain recorded'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            {},
            history.runs.map((r) =>
              h(
                'tr',
                { class: r.intact === false ? 'bad' : null },
                h('th', { scope: 'row' }, h('code', {}, r.runId)),
                h('td', { class: 'events' }, String(r.history?.events?.length ?? 0)),
                h('td', {}, r.archivedAt ? h('time', { datetime: r.archivedAt }, formatTime(r.archivedAt)) : '—'),
                h('td', {}, r.sha256 ? h('code', { class: 'hash' }, r.sha256) : '—'),
                h('td', {}, recordedCell(r)),
              ),
            ),
          ),
        ),
      );
      download.hidden = false;
    },
    () => (download.hidden = true),
  );
  return section(
    'history-h',
    'Workflow history',
    h('p', { class: 'help' }, 'The Temporal event history of this case’s workflow; when the case closes it is archived in PostgreSQL and its hash recorded in the chain.'),
    h('p', { class: 'case-line' }, load, ' ', download),
    body,
  );
}

function exportForm() {
  const from = control('From', h('input', { type: 'datetime-local', name: 'from', step: '1' }), { hint: zoneHint(true) });
  const to = control('To', h('input', { type: 'datetime-local', name: 'to', step: '1' }), { hint: zoneHint(true) });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const status = h('p', { role: 'status', class: 'help' });
  const submit = h('button', { type: 'submit' }, 'Download NDJSON');
  const form = h('form', { class: 'inline-form', novalidate: true }, from.wrap, to.wrap, submit, alert, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, [from, to]);
    const range = { from: localInputToIso(from.input.value), to: localInputToIso(to.input.value) };
    if (range.from && range.to && Date.parse(range.from) > Date.parse(range.to)) {
      status.textContent = '';
      fieldProblem(to, 'must not be earlier than From');
      return;
    }
    status.textContent = 'Exporting…';
    submit.disabled = true;
    try {
      // A plain link cannot carry the bearer header: fetch, then hand the browser a Blob to save.
      const res = await request('/v1/audit/export', { query: range, accept: 'application/x-ndjson' });
      const blob = await res.blob();
      saveBlob(blob, `takedown-audit-${stamp()}.ndjson`);
      const lines = (await blob.text()).split('\n').filter(Boolean).length;
      status.textContent = `Exported ${lines} entr${lines === 1 ? 'y' : 'ies'} (${blob.size} bytes).`;
      focusNote(status);
    } catch (err) {
      status.textContent = '';
      showProblem(err, alert, (key) => (key === 'from' ? from : key === 'to' ? to : null), [from, to]);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** Heads per check request: the API's limit. */
const HEADS_PER_CHECK = 1000;
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

/**
 * Every chain's newest entry saved to a file kept outside Takedown, and that file checked later: a chain rewritten whole
 * (every hash recomputed, so it verifies on its own) or cut since is named.
 */
function headsSection() {
  const save = h('button', { type: 'button' }, 'Save chain heads');
  const saved = h('p', { role: 'status', class: 'help' });
  save.addEventListener('click', async () => {
    save.disabled = true;
    saved.textContent = 'Reading the heads…';
    try {
      const heads = [];
      let takenAt = null;
      let after;
      do {
        const page = await getJson('/v1/audit/heads', { after });
        takenAt ??= page.at;
        heads.push(...page.heads);
        // A next equal to the after just sent would read the same page forever (an empty after counts as none).
        after = page.next && page.next !== after ? page.next : null;
        saved.textContent = `Reading the heads… ${heads.length}`;
      } while (after);
      const file = JSON.stringify({ takenAt, heads }, null, 1);
      saveBlob(new Blob([file], { type: 'application/json' }), `takedown-heads-${stamp()}.json`);
      // The file's own hash, to write down or publish where the file itself cannot go (crypto.subtle needs https or localhost).
      const digest = globalThis.crypto?.subtle
        ? Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(file))), (b) => b.toString(16).padStart(2, '0')).join('')
        : null;
      fill(
        saved,
        `Saved ${heads.length} chain head${heads.length === 1 ? '' : 's'}, taken at ${formatTime(takenAt)}. Keep the file outside Takedown.`,
        digest ? h('span', { class: 'file-digest' }, ' Its SHA-256: ', h('code', { class: 'hash' }, digest)) : null,
      );
      focusNote(saved);
    } catch (err) {
      saved.replaceChildren(errorBox(err, 'Reading the heads'));
    } finally {
      save.disabled = false;
    }
  });

  const file = control('Saved heads file', h('input', { type: 'file', name: 'heads', accept: 'application/json,.json' }));
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Check heads');
  const form = h('form', { class: 'inline-form', novalidate: true }, file.wrap, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, [file]);
    result.replaceChildren();
    const chosen = file.input.files?.[0];
    if (!chosen) return fieldProblem(file, 'is required: choose a file saved with "Save chain heads"');
    let heads;
    try {
      heads = JSON.parse(await chosen.text()).heads;
    } catch {
      heads = undefined;
    }
    if (!Array.isArray(heads) || heads.length === 0) return fieldProblem(file, 'holds no heads: choose a file saved with "Save chain heads"');
    submit.disabled = true;
    const problems = [];
    const show = (checked) =>
      fill(
        result,
        problems.length === 0
          ? h('p', { class: 'chain-badge intact', 'data-intact': 'true' }, h('strong', {}, `✓ All ${checked} heads hold`))
          : h('p', { class: 'chain-badge broken', 'data-intact': 'false' }, h('strong', {}, `✗ ${problems.length} of ${checked} heads no longer hold`)),
        problems.length ? h('ul', { class: 'head-problems' }, problems.map((p) => h('li', {}, h('a', { href: `#/audit/${encodeURIComponent(p.caseId)}` }, p.caseId), `: ${p.detail}`))) : null,
      );
    let i = 0;
    try {
      for (; i < heads.length; i += HEADS_PER_CHECK) {
        result.replaceChildren(loading(`Checking heads ${i + 1}–${Math.min(i + HEADS_PER_CHECK, heads.length)} of ${heads.length}`));
        problems.push(...(await postJson('/v1/audit/heads/check', { heads: heads.slice(i, i + HEADS_PER_CHECK) }, { idempotent: false })).problems);
      }
      show(heads.length);
    } catch (err) {
      // What the parts before this one found stays shown.
      if (i > 0) show(i);
      else result.replaceChildren();
      // A 422 names fields of this part of the file ("heads.3.hash"): counted from the file's start, they name its heads.
      if (err instanceof ApiError && err.status === 422) {
        err.errors = Object.fromEntries(Object.entries(err.errors).map(([k, m]) => [k.replace(/^heads\.(\d+)/, (_, n) => `heads.${Number(n) + i}`), m]));
      }
      showProblem(err, alert, () => null, [file]);
    } finally {
      submit.disabled = false;
    }
  });
  return section(
    'heads-h',
    'Chain heads (all cases)',
    h('p', { class: 'help' }, 'Save the newest entry of every chain to a file and keep it outside Takedown. Checking that file later names any chain rewritten or cut since, even one that verifies on its own.'),
    h('p', { class: 'case-line' }, save),
    saved,
    form,
    alert,
    result,
  );
}

/**
 * The documents the case's partners were sent (notices: requests, reminders, withdrawals), oldest first. Each opens to
 * its body as stored, with its SHA-256 recomputed beside the one its `document.rendered` entry recorded: an auditor
 * shows what a partner received, and a document altered since is marked.
 */
function documentsSection(id) {
  const body = h('div', { class: 'documents-body' });
  const open = async (doc, cell, button) => {
    button.disabled = true;
    fill(cell, loading('Loading the document'));
    try {
      const d = await getJson(`/v1/cases/${encodeURIComponent(id)}/documents/${encodeURIComponent(doc.id)}`);
      fill(
        cell,
        h(
          'p',
          { class: 'document-check', role: 'status' },
          h('span', { class: `chain-badge ${d.intact ? 'intact' : 'broken'}` }, d.intact ? 'intact' : 'altered'),
          ' SHA-256 now: ',
          d.sha256 ? h('code', { class: 'hash' }, d.sha256) : 'cannot be computed (a value no document can hold)',
          '; recorded in the chain: ',
          d.recordedSha256 ? h('code', { class: 'hash' }, d.recordedSha256) : 'no entry',
        ),
        h('pre', { class: 'document-json' }, JSON.stringify(d.document, null, 2)),
      );
    } catch (err) {
      fill(cell, errorBox(err, 'Loading the document'));
      button.disabled = false;
    }
  };
  const load = loadButton('Load documents', 'Loading the documents', body, async () => {
    const { items } = await getJson(`/v1/cases/${encodeURIComponent(id)}/documents`);
    if (items.length === 0) {
      fill(body, h('p', { role: 'status' }, 'No documents: no partner has been sent a notice for this case.'));
      return;
    }
    const rows = items.map((doc) => {
      const cell = h('td', { colspan: '5', class: 'document-detail' });
      const button = h('button', { type: 'button', class: 'secondary' }, `Show ${doc.type.replaceAll('_', ' ')}`, h('span', { class: 'visually-hidden' }, ` ${doc.id}`));
      button.addEventListener('click', () => void open(doc, cell, button));
      return [
        h(
          'tr',
          { 'data-document-id': doc.id },
          h('th', { scope: 'row' }, h('code', {}, doc.id)),
          h('td', {}, doc.type.replaceAll('_', ' ')),
          h('td', {}, h('time', { datetime: doc.createdAt }, formatTime(doc.createdAt))),
          h('td', {}, h('code', { class: 'hash' }, doc.sha256)),
          h('td', {}, button),
        ),
        h('tr', { class: 'document-row' }, cell),
      ];
    });
    fill(
      body,
      h(
        'table',
        { class: 'audit documents' },
        h('caption', { class: 'visually-hidden' }, 'Documents sent to partners, oldest first'),
        h('thead', {}, h('tr', {}, ['Document', 'Type', 'Made', 'SHA-256 stored', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows.flat()),
      ),
    );
  });
  return section(
    'documents-h',
    'Documents sent to partners',
    h('p', { class: 'help' }, 'What each partner was sent, as stored; opened, its hash is computed again and set beside the one the chain recorded.'),
    h('p', { class: 'case-line' }, load),
    body,
  );
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
    documentsSection(id),
    identity.caps.readHistory ? historySection(id) : null,
    identity.caps.exportAudit ? section('export-h', 'Export (all cases)', h('p', { class: 'help' }, 'Every audit entry in the range, one JSON object per line.'), exportForm()) : null,
    identity.caps.anchorAudit ? headsSection() : null,
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
          temporalLink(c),
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
          fill(chain, verification(v));
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
      fill(entries, res.entries.length ? entriesTable(res.entries, await principalNames(identity, res.entries)) : h('p', {}, 'No entries.'));
      const v = await verified;
      // The first bad entry and everything after it is no longer backed by the chain; an altered archive or document
      // leaves the entries themselves sound (entriesBadFrom null), and the problems above name it.
      if (v && !v.intact && v.entriesBadFrom !== null) {
        // Said in words on each such row too, not by its colour alone.
        for (const tr of entries.querySelectorAll('tr[data-seq]')) {
          if (Number(tr.dataset.seq) < v.entriesBadFrom) continue;
          tr.classList.add('bad');
          add(tr.querySelector('th'), ' ', h('span', { class: 'badge unbacked' }, Number(tr.dataset.seq) === v.entriesBadFrom ? 'first bad entry' : 'after the break'));
        }
      }
    } catch (err) {
      fill(entries, errorBox(err, 'Loading entries'));
    }
  })();
}
