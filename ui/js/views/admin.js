// The admin page: principals (create one, its token shown once; revoke) and partner orgs (list; register or change one).
import { ApiError, formKey, getJson, postJson, request } from '../api.js';
import { add, fill, h, uid } from '../dom.js';
import { clearProblem, control, fieldProblem, focusNote, showProblem } from '../forms.js';
import { formatTime, label } from '../format.js';
import { errorBox, loading, section } from '../widgets.js';

// Copies of the contract's lists (domain/types.ts).
const ROLES = ['case_lead', 'analyst', 'le_officer', 'le_supervisor', 'partner', 'auditor', 'admin'];
const PARTNER_KINDS = ['card_scheme', 'acquirer', 'payment_provider', 'hosting_provider', 'fiu'];

function principalForm(created, unanswered) {
  const name = control('Name', h('input', { name: 'name', autocomplete: 'off', maxlength: '200' }));
  const org = control('Org', h('input', { name: 'org', autocomplete: 'off', class: 'mono', placeholder: 'visa' }), { hint: '(short lower-case id)' });
  const group = uid('roles');
  const boxes = ROLES.map((r) => h('input', { type: 'checkbox', name: 'roles', id: `${group}-${r}`, value: r }));
  const rolesError = h('p', { class: 'field-error', id: `${group}-err` });
  const roles = {
    wrap: h('fieldset', { 'aria-describedby': `${group}-err` }, h('legend', {}, 'Roles'), h('div', { class: 'radios' }, boxes.map((b) => h('span', { class: 'radio' }, b, h('label', { for: b.id }, label(b.value))))), rolesError),
    input: boxes[0],
    setError(message) {
      rolesError.textContent = message ? `Roles ${message}` : '';
    },
  };
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Create principal');
  const controls = [name, org, roles];
  // Kept while a submission goes unanswered: pressing again repeats it, and the API creates nothing more (it answers
  // 409 naming the principal the first made, whose token it cannot show again).
  const key = formKey();
  const form = h('form', { class: 'inline-form', novalidate: true }, name.wrap, org.wrap, roles.wrap, submit, alert);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, controls);
    const body = { name: name.input.value.trim(), org: org.input.value.trim(), roles: boxes.filter((b) => b.checked).map((b) => b.value) };
    submit.disabled = true;
    try {
      const p = await postJson('/v1/principals', body, { key });
      form.reset();
      created(p);
    } catch (err) {
      showProblem(err, alert, (key) => (key === 'name' ? name : key === 'org' ? org : key.startsWith('roles') ? roles : null), controls);
      // No answer, or a failure past validation: the principal may exist all the same (its token lost with the answer).
      // Pressing again repeats the request under the same key, which creates none twice and names the one the first
      // made; the list is read again meanwhile.
      if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500) {
        add(alert, h('p', {}, 'The principal may have been created all the same. Pressing the button again is safe: it creates no second one, and says which one the first made. Its token cannot be shown again: if it was created, revoke it and create another.'));
        unanswered();
      }
      // The repeat's answer: the principal its key made, whose token is gone with the first answer.
      if (err instanceof ApiError && err.status === 409 && err.problem.principalId) unanswered();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/**
 * What a save would take away from a registered partner: PUT replaces the whole registration, so a form left without the
 * webhook, the secret or the name removes them (the secret is never shown, so changing a partner means typing it again).
 */
export function partnerLosses(current, body) {
  if (!current) return [];
  const lost = [];
  if (current.webhookUrl && !body.webhookUrl) lost.push('its webhook (notices to it stop; its tasks stay in its inbox)');
  else if (current.hasSecret && !body.secret) lost.push('its signing secret');
  if (current.name && !body.name) lost.push(`its name "${current.name}"`);
  return lost;
}

function partnerForm(saved, registered) {
  const org = control('Org', h('input', { name: 'org', autocomplete: 'off', class: 'mono', placeholder: 'acq-northbank' }));
  const kind = control('Kind', h('select', { name: 'kind' }, PARTNER_KINDS.map((k) => h('option', { value: k }, label(k)))));
  const name = control('Name', h('input', { name: 'name', autocomplete: 'off', maxlength: '200' }), { hint: '(optional)' });
  const webhookUrl = control('Webhook URL', h('input', { name: 'webhookUrl', type: 'url', autocomplete: 'off', class: 'mono' }), { hint: '(optional; with a secret)' });
  const secret = control('Signing secret', h('input', { name: 'secret', type: 'password', autocomplete: 'off', class: 'mono' }), {
    hint: '(whsec_ and the base64 of 24 to 64 random bytes; never shown again, so type it again when changing a partner)',
  });
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Save partner');
  const controls = [org, kind, name, webhookUrl, secret];
  const byKey = { org, kind, name, webhookUrl, secret };
  const form = h('form', { class: 'inline-form', novalidate: true }, controls.map((c) => c.wrap), submit, alert);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, controls);
    const orgId = org.input.value.trim();
    if (!orgId) {
      fieldProblem(org, 'is required');
      return;
    }
    const body = { kind: kind.input.value };
    for (const [key, c] of Object.entries({ name, webhookUrl, secret })) if (c.input.value.trim()) body[key] = c.input.value.trim();
    // A save replaces the registration: say what it would remove from a partner registered already, and ask.
    const lost = partnerLosses(registered().get(orgId), body);
    if (lost.length > 0 && !window.confirm(`Saving ${orgId} like this removes ${lost.join(' and ')}. Save anyway?`)) return;
    submit.disabled = true;
    try {
      const res = await request(`/v1/partners/${encodeURIComponent(orgId)}`, { method: 'PUT', body });
      const p = await res.json();
      form.reset();
      saved(p);
    } catch (err) {
      showProblem(err, alert, (key) => byKey[key] ?? null, controls);
    } finally {
      submit.disabled = false;
    }
  });
  /** Fills the form from a listed partner, to change it (all but the secret, which is never shown). */
  form.editPartner = (p) => {
    clearProblem(alert, controls);
    org.input.value = p.org;
    kind.input.value = p.kind;
    name.input.value = p.name ?? '';
    webhookUrl.input.value = p.webhookUrl ?? '';
    secret.input.value = '';
    (p.hasSecret ? secret : name).input.focus();
  };
  return form;
}

/** An admin event's change in words: a webhook by its origin (its path is never recorded), never a secret. */
export function adminEventDetail(e) {
  const d = e.data ?? {};
  if (e.action === 'partner.updated') {
    const origin = (w) => (w ? (w.origin ?? 'an unparsable URL') : 'none');
    const before = d.webhook?.before ?? null;
    const after = d.webhook?.after ?? null;
    const parts = [d.created ? `registered as ${label(d.kind ?? '')}` : null];
    if (d.created) parts.push(`webhook ${origin(after)}`);
    else if ((before?.urlSha256 ?? null) !== (after?.urlSha256 ?? null)) parts.push(`webhook ${origin(before)} → ${origin(after)}`);
    if (d.secretChanged) parts.push(d.hasSecret ? 'secret changed' : 'secret removed');
    const said = parts.filter(Boolean);
    return said.length > 0 ? said.join('; ') : 'saved unchanged';
  }
  if (e.action === 'principal.created') return `${d.name ?? ''} in ${d.org ?? ''}: ${(d.roles ?? []).map(label).join(', ')}`;
  if (e.action === 'principal.revoked') return `in ${d.org ?? ''}`;
  return '';
}

const CHANGES_PAGE = 50;
const CHANGES_HINT = 'What admins changed, newest first; kept append-only. A webhook is named by its origin only, a secret never.';

/**
 * What admins changed, newest first (GET /v1/admin/events), a page at a time: "Load more" follows the cursor, and
 * `reload()` starts again from the newest (after an admin's own change). For admins and auditors.
 */
function changesList() {
  const wrap = h('div', { class: 'table-wrap' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'admin-events' },
    h('thead', {}, h('tr', {}, ['When', 'By', 'Change', 'Of', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
    body,
  );
  const row = (e) =>
    h(
      'tr',
      { 'data-event-id': e.id },
      h('td', {}, h('time', { datetime: e.at }, formatTime(e.at))),
      h('td', {}, h('code', {}, e.actor.id)),
      h('th', { scope: 'row' }, label(e.action.replace('.', '_'))),
      h('td', {}, h('code', {}, e.subject)),
      h('td', {}, adminEventDetail(e)),
    );
  let cursor = null;
  let seq = 0;
  async function load({ fresh = false, focusNew = false } = {}) {
    const mine = ++seq;
    if (fresh) cursor = null;
    if (!wrap.hasChildNodes()) fill(wrap, loading('Loading changes'));
    more.disabled = true;
    try {
      const res = await getJson('/v1/admin/events', { limit: CHANGES_PAGE, cursor });
      if (mine !== seq) return;
      const before = fresh ? 0 : body.children.length;
      if (fresh) body.replaceChildren();
      add(body, ...res.items.map(row));
      cursor = res.nextCursor ?? null;
      more.hidden = !cursor;
      fill(wrap, body.children.length === 0 ? h('p', {}, 'No changes recorded yet.') : table);
      // "Load more" may be gone (the last page): focus moves to the first row added.
      const first = focusNew ? body.children[before]?.querySelector('th') : null;
      if (first) focusNote(first);
    } catch (err) {
      if (mine !== seq) return;
      fill(wrap, errorBox(err, 'Loading changes'));
      // A failed reload from the newest: the rows shown are gone with it, and the cursor with them.
      if (fresh) {
        body.replaceChildren();
        more.hidden = true;
      }
    } finally {
      // Only the latest load may hand the button back: an older one ending meanwhile would let "Load more" append to rows
      // a reload is replacing.
      if (mine === seq) more.disabled = false;
    }
  }
  more.addEventListener('click', () => void load({ focusNew: true }));
  void load({ fresh: true });
  return { element: h('div', {}, wrap, more), reload: () => load({ fresh: true }) };
}

export function renderAdmin(page, { identity }) {
  if (!identity.caps.admin && identity.caps.readAdminEvents) {
    // An auditor reads what admins changed (who was given which roles, where partners' notices go), and changes nothing.
    add(page, h('h1', {}, 'Administration changes'), section('changes-h', 'Changes', h('p', { class: 'hint' }, CHANGES_HINT), changesList().element));
    return;
  }
  add(page, h('h1', {}, 'Administration'));
  if (!identity.caps.admin) {
    add(page, h('p', { class: 'error-box' }, 'Only administrators manage principals and partners; your roles do not include admin.'));
    return;
  }
  const note = h('div', { class: 'notice', hidden: true });
  const principals = h('div', { class: 'table-wrap' });
  const partners = h('div', { class: 'table-wrap' });
  const changes = changesList();
  const loadChanges = changes.reload;

  /** A message after an action, focused so it is read out; `extra` is what follows it (a token shown once). */
  function tell(text, extra) {
    fill(note, h('p', {}, text), extra);
    note.hidden = false;
    focusNote(note);
  }

  async function revoke(p) {
    // Revoking cannot be undone (the principal's token stops working at once): asked once more.
    if (!window.confirm(`Revoke ${p.name} (${p.org})? Its token stops working at once; this cannot be undone.`)) return;
    try {
      await request(`/v1/principals/${encodeURIComponent(p.id)}`, { method: 'DELETE' });
      tell(`Revoked ${p.name} (${p.id}); the token no longer works.`);
    } catch (err) {
      fill(note, errorBox(err, `Revoking ${p.name}`));
      note.hidden = false;
      focusNote(note);
    }
    await loadPrincipals();
    void loadChanges();
  }

  /** Lists `path`'s items into `target` with `render`; the loading note only on the first load, errors in place. */
  async function loadInto(target, what, path, render) {
    if (!target.hasChildNodes()) fill(target, loading(`Loading ${what}`));
    try {
      const { items } = await getJson(path);
      fill(target, render(items));
    } catch (err) {
      fill(target, errorBox(err, `Loading ${what}`));
    }
  }

  const loadPrincipals = () =>
    loadInto(principals, 'principals', '/v1/principals', (items) =>
      h(
        'table',
        { class: 'principals' },
        h('thead', {}, h('tr', {}, ['Name', 'Id', 'Org', 'Roles', 'Created', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          items.map((p) =>
            h(
              'tr',
              { 'data-principal-id': p.id },
              h('th', { scope: 'row' }, p.name),
              h('td', {}, h('code', {}, p.id)),
              h('td', {}, p.org),
              h('td', {}, p.roles.map(label).join(', ')),
              h('td', {}, formatTime(p.createdAt)),
              h('td', {}, p.revokedAt ? `revoked ${formatTime(p.revokedAt)}` : 'active'),
              h('td', {}, p.revokedAt ? '' : h('button', { type: 'button', class: 'secondary', 'aria-label': `Revoke ${p.name}`, onClick: () => void revoke(p) }, 'Revoke')),
            ),
          ),
        ),
      ),
    );

  let registered = new Map();
  const loadPartners = () =>
    loadInto(partners, 'partners', '/v1/partners', (items) => {
      registered = new Map(items.map((p) => [p.org, p]));
      return items.length === 0
        ? h('p', {}, 'No partner orgs registered.')
        : h(
            'table',
            { class: 'partners' },
            h('thead', {}, h('tr', {}, ['Org', 'Kind', 'Name', 'Webhook', 'Secret', 'Updated', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              items.map((p) =>
                h(
                  'tr',
                  { 'data-org': p.org },
                  h('th', { scope: 'row' }, p.org),
                  h('td', {}, label(p.kind)),
                  h('td', {}, p.name ?? '—'),
                  h('td', {}, p.webhookUrl ? h('code', {}, p.webhookUrl) : 'none (tasks in the inbox)'),
                  // A replaced secret signs beside the new one until the partner has switched over.
                  h('td', {}, p.hasSecret ? 'set' : '—', p.previousSecretUntil ? [h('br'), h('span', { class: 'hint' }, 'the replaced one signs too until '), h('time', { datetime: p.previousSecretUntil }, formatTime(p.previousSecretUntil))] : null),
                  h('td', {}, formatTime(p.updatedAt)),
                  h('td', {}, h('button', { type: 'button', class: 'secondary', 'aria-label': `Change ${p.org}`, onClick: () => partnerEditor.editPartner(p) }, 'Change')),
                ),
              ),
            ),
          );
    });

  const created = (p) => {
    tell(`Created ${p.name} (${p.id}). Their token is shown this once; copy it now and hand it over safely:`, h('p', {}, h('code', { class: 'hash new-token' }, p.token)));
    void loadPrincipals();
    void loadChanges();
  };
  const saved = (p) => {
    tell(`Saved partner ${p.org}.`);
    void loadPartners();
    void loadChanges();
  };
  const partnerEditor = partnerForm(saved, () => registered);
  add(
    page,
    note,
    section('principals-h', 'Principals', principals, h('h3', {}, 'New principal'), principalForm(created, () => void loadPrincipals())),
    section('partners-h', 'Partner orgs', partners, h('h3', {}, 'Register or change a partner'), partnerEditor),
    section('changes-h', 'Changes', h('p', { class: 'hint' }, CHANGES_HINT), changes.element),
  );
  void loadPrincipals();
  void loadPartners();
}
