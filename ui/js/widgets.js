// Small pieces every page uses: status badges, the five-step progress bar, loading and error states.
import { describeError } from './api.js';
import { fill, h } from './dom.js';
import { label, STEP_NAMES } from './format.js';

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, label(status));
}

/** Five segments, one per step, each coloured by its status and named in text for screen readers. */
export function progressBar(steps) {
  const byName = new Map((steps ?? []).map((s) => [s.name, s]));
  const finished = (steps ?? []).filter((s) => ['done', 'declined', 'skipped', 'cancelled', 'failed'].includes(s.status)).length;
  // Cancelled steps end a case too, but nothing was done in them: a withdrawn case does not read "5/5".
  const cancelled = (steps ?? []).filter((s) => s.status === 'cancelled').length;
  const count = cancelled ? `${finished - cancelled}/5 · ${cancelled} cancelled` : `${finished}/5`;
  const summary = STEP_NAMES.map((n) => `${n} ${label(byName.get(n)?.status ?? 'pending')}`).join(', ');
  return h(
    'div',
    { class: 'progress', role: 'img', 'aria-label': `${finished - cancelled} of 5 steps finished${cancelled ? `, ${cancelled} cancelled` : ''}: ${summary}` },
    STEP_NAMES.map((n) => {
      const status = byName.get(n)?.status ?? 'pending';
      return h('span', { class: `seg step-${status}`, title: `${n}: ${label(status)}` });
    }),
    h('span', { class: 'progress-count', 'aria-hidden': 'true' }, count),
  );
}

export function loading(what = 'Loading') {
  return h('p', { class: 'loading', role: 'status' }, `${what}…`);
}

/** A failed request said plainly, in a live region so it is announced. */
export function errorBox(err, prefix) {
  return h('div', { class: 'error-box', role: 'alert' }, prefix ? `${prefix}: ` : '', describeError(err));
}

/** A section with a heading; `id` ties the heading to the region for screen readers. */
export function section(id, title, ...children) {
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** Calls `fn` every `ms` while `page` is on screen and the tab is visible; stops once the router has put another page in its place. */
export function repeatWhileShown(page, ms, fn) {
  const timer = setInterval(() => {
    if (!page.isConnected) clearInterval(timer);
    else if (document.visibilityState === 'visible') fn();
  }, ms);
  return () => clearInterval(timer);
}

/**
 * A button that loads a part of the page into `body` when pressed, one load at a time: `what` is said while it loads
 * ("Loading the history"), and a failure takes the part's place in the same words (then `onFailure` runs).
 */
export function loadButton(text, what, body, load, onFailure = () => {}) {
  const button = h('button', { type: 'button', class: 'secondary' }, text);
  let busy = false;
  button.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    fill(body, loading(what));
    try {
      await load();
    } catch (err) {
      fill(body, errorBox(err, what));
      onFailure();
    } finally {
      busy = false;
    }
  });
  return button;
}
