// The console shell: hash routes, the header (who is signed in, sign-out), and which page each route shows.
import { describeError } from './api.js';
import { fill, h } from './dom.js';
import { loadIdentity } from './session.js';
import { clearSession, getToken } from './token.js';
import { renderAdmin } from './views/admin.js';
import { renderAudit } from './views/audit.js';
import { renderBoard } from './views/board.js';
import { renderCase } from './views/case.js';
import { renderInbox } from './views/inbox.js';
import { renderNewCase } from './views/new-case.js';
import { renderSignIn } from './views/signin.js';

const ROUTES = [
  { re: /^\/signin$/, view: renderSignIn, public: true },
  { re: /^\/cases$/, view: renderBoard },
  { re: /^\/cases\/new$/, view: renderNewCase },
  { re: /^\/cases\/([^/]+)$/, view: renderCase },
  { re: /^\/tasks$/, view: renderInbox },
  { re: /^\/audit\/([^/]+)$/, view: renderAudit },
  { re: /^\/admin$/, view: renderAdmin },
];

/** Where a person lands: the board if they read cases, the admin page for an admin alone, else their inbox. */
export function homeOf(identity) {
  if (identity?.caps.readCases) return '#/cases';
  return identity?.caps.admin && identity.roles.length === 1 ? '#/admin' : '#/tasks';
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const at = raw.indexOf('?');
  return { path: at < 0 ? raw : raw.slice(0, at), query: new URLSearchParams(at < 0 ? '' : raw.slice(at + 1)) };
}

let signInNotice = '';

function renderHeader(identity, path) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!identity) {
    fill(nav);
    fill(who);
    return;
  }
  const link = (href, text) => h('a', { href, 'aria-current': path === href.slice(1) ? 'page' : null }, text);
  fill(
    nav,
    identity.caps.readCases ? link('#/cases', 'Cases') : null,
    identity.caps.admin && identity.roles.length === 1 ? null : link('#/tasks', 'My tasks'),
    identity.caps.createCase ? link('#/cases/new', 'New case') : null,
    identity.caps.admin ? link('#/admin', 'Admin') : identity.caps.readAdminEvents ? link('#/admin', 'Admin changes') : null,
  );
  const roles = identity.roles.length ? identity.roles.join(', ') : 'no roles';
  fill(
    who,
    h(
      'span',
      { class: 'who-text' },
      'Signed in as ',
      h('strong', { class: 'who-name' }, identity.name),
      ' · ',
      h('span', { class: 'who-org' }, identity.org),
      ' · ',
      h('span', { class: 'who-roles' }, roles),
    ),
    h('button', { type: 'button', class: 'secondary', onClick: signOut }, 'Sign out'),
  );
}

function signOut() {
  clearSession();
  signInNotice = 'Signed out.';
  location.hash = '#/signin';
}

let renderSeq = 0;

/** The route's parameters decoded, or null when one is not valid percent-encoding (decodeURIComponent throws). */
function decodedParams(m) {
  try {
    return m.slice(1).map(decodeURIComponent);
  } catch {
    return null;
  }
}

async function route() {
  if (location.hash && !location.hash.startsWith('#/')) return;
  const { path, query } = parseHash();
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  const match = ROUTES.map((r) => ({ r, m: r.re.exec(path) })).find((x) => x.m);
  if (!getToken()) {
    renderHeader(null, path);
    if (!match?.r.public) {
      location.replace('#/signin');
      return;
    }
  }
  let identity = null;
  if (getToken()) {
    try {
      identity = await loadIdentity();
    } catch (err) {
      if (seq !== renderSeq) return;
      fill(main, h('h1', { tabindex: '-1' }, 'Cannot reach the API'), h('div', { class: 'error-box', role: 'alert' }, describeError(err)));
      return;
    }
    if (seq !== renderSeq) return;
    if (!match || match.r.public) {
      location.replace(homeOf(identity));
      return;
    }
  }
  // A hand-typed address whose escapes do not decode (a lone `%`) names no page: home, as for an unknown path.
  const params = decodedParams(match.m);
  if (!params) {
    location.replace(homeOf(identity));
    return;
  }
  renderHeader(identity, path);
  // Each render gets a fresh container: a slow answer for a page already left lands in a detached node, never on screen.
  const page = h('div', { class: 'page' });
  main.replaceChildren(page);
  const notice = signInNotice;
  signInNotice = '';
  match.r.view(page, { params, query, identity, notice, homeOf });
  const heading = page.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    document.title = `${heading.textContent} · Takedown`;
    if (seq > 1) heading.focus();
  }
}

// The skip link moves focus without touching the hash, which belongs to the router.
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', () => void route());
window.addEventListener('takedown:unauthorized', () => {
  signInNotice = 'Your token is unknown or has been revoked. Sign in again.';
  location.hash = '#/signin';
});
void route();
