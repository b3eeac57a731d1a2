// Form plumbing shared by every form: a labelled control with its own error line, and a failed request's errors put beside the fields.
import { ApiError } from './api.js';
import { add, h, uid } from './dom.js';
import { errorBox } from './widgets.js';

/**
 * One labelled control with an error line, wired with aria-describedby and aria-invalid.
 * `name` prefixes error messages ("Comment is required ..."); it defaults to the label.
 */
export function control(labelText, input, { hint, name } = {}) {
  input.id ||= uid('f');
  const errorId = uid('err');
  const hintEl = hint ? h('span', { class: 'hint', id: uid('hint') }, hint) : null;
  const error = h('p', { class: 'field-error', id: errorId });
  input.setAttribute('aria-describedby', [hintEl?.id, errorId].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { for: input.id }, labelText, hintEl ? ' ' : '', hintEl), input, error);
  return {
    wrap,
    input,
    setError(message) {
      error.textContent = message ? `${name ?? labelText} ${message}` : '';
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    },
  };
}

/**
 * Shows a failed request in `alert`; for a 422 each entry of the problem's `errors` goes beside the control `find(key)`
 * returns (keys such as "comment", "data.amount", "evidence.0.sha256"), the rest is listed in the alert. `find` may return
 * [control, prefix] to say where in the control the problem is ("line 2:"). Focuses the first bad field, else the alert
 * (the submit button was disabled while the request ran, so focus would otherwise be left on the page's body).
 */
export function showProblem(err, alert, find, controls) {
  for (const c of controls) c.setError('');
  alert.replaceChildren();
  const leftover = [];
  const byControl = new Map();
  if (err instanceof ApiError && err.status === 422) {
    for (const [key, message] of Object.entries(err.errors)) {
      const found = find(key);
      const [c, prefix] = Array.isArray(found) ? found : [found, ''];
      if (c) byControl.set(c, [...(byControl.get(c) ?? []), `${prefix}${message}`]);
      else leftover.push(`${key} ${message}`);
    }
  }
  for (const [c, messages] of byControl) c.setError(messages.join('; '));
  add(alert, errorBox(err), leftover.length ? h('ul', { class: 'leftover' }, leftover.map((t) => h('li', {}, t))) : null);
  const first = [...byControl.keys()][0];
  if (first) first.input.focus();
  else focusNote(alert);
}

/** Moves focus to a message (an alert, a confirmation) that is not itself a control, so keyboard and screen-reader users land on it. */
export function focusNote(el) {
  el.setAttribute('tabindex', '-1');
  el.focus();
}

/** A field error found before any request: shown beside the control, which gets focus. */
export function fieldProblem(c, message) {
  c.setError(message);
  c.input.focus();
}

export function clearProblem(alert, controls) {
  for (const c of controls) c.setError('');
  alert.replaceChildren();
}

/** A textarea's non-blank lines, trimmed: one URL, channel or evidence item each. */
export function lines(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
