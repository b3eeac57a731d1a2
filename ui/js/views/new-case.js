// The new-case form for case leads: the contract's case body from plain fields, one line per channel, hosting entry or evidence item.
import { formKey, getJson, postJson } from '../api.js';
import { add, h } from '../dom.js';
import { clearProblem, control, fieldProblem, lines, showProblem } from '../forms.js';
import { label, SLA_DEFAULTS } from '../format.js';

const words = (line) => line.split(/\s+/);

/** "visa acq-northbank 4451200001 [5967]" → a card channel (the merchant category code is optional). */
const cardOf = (line) => {
  const [scheme, acquirer, merchantId, mcc, ...more] = words(line);
  // A fifth word stays in the id, where the API refuses it with the line named, rather than being dropped.
  return { kind: 'card', scheme, acquirer, merchantId: more.length ? [merchantId, mcc, ...more].join(' ') : merchantId, ...(mcc && !more.length ? { mcc } : {}) };
};
/** "name | role | address | national id": one principal owner (only the name is required). */
const ownerOf = (line) => {
  const [name, role, address, nationalId] = pipeParts(line);
  return { name, ...(role ? { role } : {}), ...(address ? { address } : {}), ...(nationalId ? { nationalId } : {}) };
};
/** "paypal PP-88812" → a wallet channel. */
const walletOf = (line) => {
  const [provider, accountId] = words(line);
  return { kind: 'wallet', provider, accountId };
};
/** "host-example 203.0.113.7 https://a https://b" (the address is optional). */
const hostingOf = (line) => {
  const [provider, ...rest] = words(line);
  const ip = rest[0] && !/^https?:/i.test(rest[0]) ? rest.shift() : undefined;
  return { provider, ...(ip ? { ip } : {}), urls: rest };
};
/** A line cut at each "|" that is not written "\|" (a "|" inside a part); "\\" is a backslash. */
const pipeParts = (line) => {
  const parts = [''];
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) parts[parts.length - 1] += line[++i];
    else if (ch === '|') parts.push('');
    else parts[parts.length - 1] += ch;
  }
  return parts.map((p) => p.trim());
};

/**
 * "test_transaction <sha256> | description | collected at | collected by": kind and hash, then the optional fields after "|"
 * (an empty part is left out; "\|" is a "|" inside a part). Anything else on the line is refused with { error }, never dropped.
 */
const evidenceOf = (line) => {
  const [first, ...parts] = pipeParts(line);
  const [kind, sha256, ...more] = words(first);
  if (more.length) return { error: `“${more.join(' ')}” after the hash: put a description after “|”` };
  if (parts.length > 3) return { error: 'has more than three “|” parts (description | collected at | collected by)' };
  const [description, collectedAt, collectedBy] = parts;
  return { kind, sha256, ...(description ? { description } : {}), ...(collectedAt ? { collectedAt } : {}), ...(collectedBy ? { collectedBy } : {}) };
};

/** The orgs a case body names as partners: schemes and acquirers of card channels, wallet providers, hosting providers. */
export function partnerOrgsNamed(body) {
  const orgs = [];
  for (const ch of body.merchant.paymentChannels) {
    // A card's scheme is asked to terminate, its acquirer only to freeze; a wallet's provider to do both.
    if (ch.kind === 'card') orgs.push(ch.scheme, ...(body.plan.freezeAssets ? [ch.acquirer] : []));
    else orgs.push(ch.provider);
  }
  orgs.push(...body.merchant.hosting.map((x) => x.provider));
  return [...new Set(orgs.filter(Boolean))];
}

/**
 * What the case lead is asked before opening a case naming orgs that nobody there would hear of (no webhook for its
 * notices, and nobody of the partner role signing in to find its tasks); null when each org can be reached one way.
 */
export function unreachableQuestion(named, directory) {
  const byOrg = new Map(directory.map((p) => [p.org, p]));
  const unknown = named.filter((o) => !byOrg.has(o));
  const silent = named.filter((o) => byOrg.has(o) && !byOrg.get(o).receivesNotices && !byOrg.get(o).signsIn);
  if (unknown.length === 0 && silent.length === 0) return null;
  const parts = [];
  if (unknown.length) parts.push(`unknown here: ${unknown.join(', ')}`);
  if (silent.length) parts.push(`registered, but without a webhook and with nobody signing in: ${silent.join(', ')}`);
  return `No one at some orgs this case names would learn of its requests (${parts.join('; ')}). Their requests would wait until their deadlines pass, then ask you what to do. Open the case anyway?`;
}

export function renderNewCase(page, { identity }) {
  add(page, h('h1', {}, 'New case'));
  if (!identity.caps.createCase) {
    add(page, h('p', { class: 'error-box' }, 'Only case leads open cases; your roles do not include case_lead.'));
    return;
  }
  const text = (name, attrs = {}) => h('input', { name, autocomplete: 'off', ...attrs });
  const area = (name, rows = 2) => h('textarea', { name, rows: String(rows), class: 'mono', spellcheck: 'false' });
  const c = {
    reference: control('Reference', text('reference', { placeholder: 'EFC-2026-0042' })),
    jurisdiction: control('Jurisdiction', text('jurisdiction', { value: 'GB', maxlength: '2', size: '3' }), { hint: '(ISO 3166 code)' }),
    priority: control('Priority', h('select', { name: 'priority' }, ['low', 'normal', 'high', 'critical'].map((p) => h('option', { value: p, selected: p === 'normal' }, p)))),
    name: control('Merchant name', text('name')),
    descriptor: control('Descriptor', text('descriptor', { placeholder: 'EXSHOP*ONLINE' }), { hint: '(as on card statements; optional)' }),
    urls: control('Shop URLs', area('urls'), { hint: '(one per line)' }),
    cards: control('Card channels', area('cards'), { hint: '(one per line: scheme acquirer merchant-id [mcc])' }),
    wallets: control('Wallet channels', area('wallets'), { hint: '(one per line: provider account-id)' }),
    hosting: control('Hosting', area('hosting'), { hint: '(one per line: provider [ip] url …)' }),
    legalName: control('Legal name', text('legalName')),
    address: control('Registered address', area('address')),
    country: control('Country', text('country', { maxlength: '2', size: '3' }), { hint: '(ISO 3166 code)' }),
    phone: control('Phone', text('phone')),
    taxIds: control('Tax ids', area('taxIds'), { hint: '(one per line)' }),
    dateOpened: control('Account opened', text('dateOpened', { placeholder: '2024-05-01' }), { hint: '(YYYY-MM-DD)' }),
    principals: control('Principal owners', area('principals'), { hint: '(one per line: name | role | address | national id; only the name is required)' }),
    evidence: control('Evidence', area('evidence', 3), {
      hint: '(one per line: kind sha256, then optionally | description | collected at | collected by, e.g. test_transaction 9f86… | test purchase | 2026-03-01T10:00:00Z | J. Smith; write \\| for a | inside a part)',
    }),
  };
  const freeze = h('input', { type: 'checkbox', id: 'nc-freeze', name: 'freezeAssets', checked: true });
  const slas = Object.fromEntries(Object.entries(SLA_DEFAULTS).map(([k, v]) => [k, control(`${k}`, text(`sla-${k}`, { value: v, size: '6' }), { name: `SLA ${k}` })]));
  const alert = h('div', { class: 'form-alert', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Open case');
  // Kept while a submission goes unanswered: pressing again repeats the same request (api.js formKey).
  const key = formKey();
  const form = h(
    'form',
    { class: 'new-case', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Case'), c.reference.wrap, c.jurisdiction.wrap, c.priority.wrap),
    h('fieldset', {}, h('legend', {}, 'Merchant'), c.name.wrap, c.descriptor.wrap, c.urls.wrap, c.cards.wrap, c.wallets.wrap, c.hosting.wrap),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Merchant identity (optional)'),
      h('p', { class: 'help' }, 'What a scheme needs to list a terminated merchant (MATCH, VMSS): termination requests carry it.'),
      c.legalName.wrap,
      c.address.wrap,
      c.country.wrap,
      c.phone.wrap,
      c.taxIds.wrap,
      c.dateOpened.wrap,
      c.principals.wrap,
    ),
    h('fieldset', {}, h('legend', {}, 'Evidence references'), c.evidence.wrap),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Plan'),
      h('div', { class: 'check' }, freeze, h('label', { for: 'nc-freeze' }, 'Freeze assets')),
      h('div', { class: 'sla-row' }, Object.values(slas).map((s) => s.wrap)),
    ),
    submit,
    alert,
  );
  const all = [...Object.values(c), ...Object.values(slas)];
  // The orgs notices can reach, to name them beside the form and to ask before a case names another; null if unread.
  let directory = null;
  const known = h('details', { class: 'partner-directory' }, h('summary', {}, 'Partner orgs'), h('p', { class: 'help' }, 'Loading…'));
  c.hosting.wrap.after(known);
  getJson('/v1/partner-directory')
    .then((res) => {
      directory = res.items;
      const how = (p) => [p.receivesNotices ? 'notices by webhook' : '', p.signsIn ? 'signs in to the console' : ''].filter(Boolean).join(', ') || 'not reachable: no webhook, nobody signs in';
      const items = res.items.map((p) => h('li', {}, h('code', {}, p.org), `${p.kind ? ` · ${label(p.kind)}` : ''}${p.name ? ` · ${p.name}` : ''} · ${how(p)}`));
      known.replaceChildren(h('summary', {}, `Partner orgs (${res.items.length})`), items.length ? h('ul', { class: 'plain' }, items) : h('p', { class: 'help' }, 'None known yet.'));
    })
    .catch(() => known.replaceChildren(h('summary', {}, 'Partner orgs'), h('p', { class: 'help' }, 'The partner directory could not be read.')));
  let built = { cards: 0 };

  // Error keys follow the body: "merchant.paymentChannels.2.merchantId" is the first wallet line when two card lines came first.
  const find = (key) => {
    const p = key.split('.');
    const line = (i, rest) => `line ${Number(i) + 1}${rest.length ? ` ${rest.join('.')}` : ''}: `;
    if (p[0] === 'reference' || p[0] === 'jurisdiction' || p[0] === 'priority') return c[p[0]];
    if (p[0] === 'evidence') return p.length > 1 ? [c.evidence, line(p[1], p.slice(2))] : c.evidence;
    if (p[0] === 'plan') return p[1] === 'slas' && slas[p[2]] ? slas[p[2]] : null;
    if (p[0] !== 'merchant') return null;
    if (['name', 'descriptor', 'legalName', 'address', 'country', 'phone', 'dateOpened'].includes(p[1])) return c[p[1]];
    if (p[1] === 'taxIds') return p.length > 2 ? [c.taxIds, line(p[2], [])] : c.taxIds;
    if (p[1] === 'principals') return p.length > 2 ? [c.principals, line(p[2], p.slice(3))] : c.principals;
    if (p[1] === 'urls') return p.length > 2 ? [c.urls, line(p[2], [])] : c.urls;
    if (p[1] === 'hosting') return p.length > 2 ? [c.hosting, line(p[2], p.slice(3))] : c.hosting;
    if (p[1] === 'paymentChannels') {
      if (p.length === 2) return c.cards;
      const i = Number(p[2]);
      return i < built.cards ? [c.cards, line(i, p.slice(3))] : [c.wallets, line(i - built.cards, p.slice(3))];
    }
    return null;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblem(alert, all);
    const evidence = lines(c.evidence.input.value).map(evidenceOf);
    const bad = evidence.findIndex((e) => e.error);
    if (bad >= 0) {
      fieldProblem(c.evidence, `line ${bad + 1}: ${evidence[bad].error}`);
      return;
    }
    const cards = lines(c.cards.input.value).map(cardOf);
    const wallets = lines(c.wallets.input.value).map(walletOf);
    built = { cards: cards.length };
    const descriptor = c.descriptor.input.value.trim();
    // The identity fields left empty are left out, as the API takes them: optional.
    const identityFields = Object.fromEntries(
      [
        ['legalName', c.legalName.input.value.trim()],
        ['address', c.address.input.value.trim()],
        ['country', c.country.input.value.trim().toUpperCase()],
        ['phone', c.phone.input.value.trim()],
        ['taxIds', lines(c.taxIds.input.value)],
        ['dateOpened', c.dateOpened.input.value.trim()],
        ['principals', lines(c.principals.input.value).map(ownerOf)],
      ].filter(([, v]) => v.length > 0),
    );
    const body = {
      reference: c.reference.input.value.trim(),
      jurisdiction: c.jurisdiction.input.value.trim().toUpperCase(),
      priority: c.priority.input.value,
      merchant: {
        name: c.name.input.value.trim(),
        ...(descriptor ? { descriptor } : {}),
        ...identityFields,
        urls: lines(c.urls.input.value),
        paymentChannels: [...cards, ...wallets],
        hosting: lines(c.hosting.input.value).map(hostingOf),
      },
      evidence,
      plan: { freezeAssets: freeze.checked, slas: Object.fromEntries(Object.entries(slas).map(([k, s]) => [k, s.input.value.trim()])) },
    };
    submit.disabled = true;
    try {
      // A reference already in use is most often the same case opened twice: asked first (not on a repeat of an
      // unanswered submission, which may have made that very case).
      if (!key.repeating()) {
        const question = directory && unreachableQuestion(partnerOrgsNamed(body), directory);
        if (question && !window.confirm(question)) {
          submit.disabled = false;
          return;
        }
        // Without a reference there is nothing to compare (the filter would be left out, and every case listed); the
        // API's 422 then names the field.
        const same = body.reference ? await getJson('/v1/cases', { reference: body.reference, limit: 5 }).catch(() => ({ items: [] })) : { items: [] };
        const twins = same.items.filter((x) => x.reference === body.reference);
        const listed = twins.map((x) => `${x.id} (${label(x.status)})`).join(', ');
        if (twins.length > 0 && !window.confirm(`Your org already has a case with reference ${body.reference}: ${listed}. Open another one?`)) {
          submit.disabled = false;
          return;
        }
      }
      const created = await postJson('/v1/cases', body, { key });
      location.hash = `#/cases/${encodeURIComponent(created.id)}`;
    } catch (err) {
      showProblem(err, alert, find, all);
      submit.disabled = false;
    }
  });
  add(page, h('p', { class: 'lead' }, 'Opens the case and starts its workflow: verification first, then sign-off, then the partners’ requests.'), form);
}
