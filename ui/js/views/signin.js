// Sign-in: paste a token; it is checked against the API before the console opens.
import { describeError } from '../api.js';
import { add, h } from '../dom.js';
import { loadIdentity } from '../session.js';
import { clearSession, setToken } from '../token.js';

export function renderSignIn(page, { notice, homeOf }) {
  const error = h('div', { class: 'error-slot', role: 'alert' });
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'token-help',
    required: true,
  });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin', novalidate: true },
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'help' }, 'The token an administrator created for you. It stays in this browser tab only and is sent to the API as a bearer token.'),
    button,
    error,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const token = input.value.trim();
    if (!token) {
      add(error, h('p', { class: 'error-box' }, 'Paste a token first.'));
      input.focus();
      return;
    }
    button.disabled = true;
    setToken(token);
    try {
      const identity = await loadIdentity();
      location.hash = homeOf(identity);
    } catch (err) {
      clearSession();
      add(error, h('p', { class: 'error-box' }, describeError(err)));
      // Selected, so the next paste or keystroke replaces the refused token.
      input.focus();
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  add(page, h('h1', {}, 'Sign in'), notice ? h('p', { class: 'notice', role: 'status' }, notice) : null, form);
  if (!notice) queueMicrotask(() => input.focus());
}
