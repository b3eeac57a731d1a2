// HTTP to the Takedown API: the bearer header, problem+json errors as ApiError, and the end of the session on a 401.
import { clearSession, getToken } from './token.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem ?? {};
    /** Field errors of a 422: { "comment": "is required ...", "data.amount": "..." }. */
    this.errors = problem?.errors ?? {};
  }
}

/** A fresh Idempotency-Key per user action; crypto.randomUUID is missing outside secure contexts (plain http on a LAN address). */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function request(path, { method = 'GET', body, query, headers = {}, accept = 'application/json' } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  const token = getToken();
  const all = { Accept: accept, ...headers };
  if (token) all.Authorization = `Bearer ${token}`;
  if (body !== undefined) all['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
  } catch (err) {
    throw new ApiError(0, { title: 'The API did not answer', detail: String(err?.message ?? err) });
  }
  // 304: the answer to a conditional GET (If-None-Match) whose resource has not changed; only such requests get one.
  if (res.ok || res.status === 304) return res;
  let problem;
  try {
    problem = await res.json();
  } catch {
    problem = { title: res.statusText || `HTTP ${res.status}` };
  }
  if (res.status === 401 && token) {
    clearSession();
    window.dispatchEvent(new CustomEvent('takedown:unauthorized', { detail: problem }));
  }
  throw new ApiError(res.status, problem);
}

export async function getJson(path, query) {
  return (await request(path, { query })).json();
}

/**
 * Reads each of `paths` once, a few at a time (a page that names many things does not send them all at once): a Map
 * from each path to its answer, or to null where the read failed.
 */
export async function getEach(paths, atOnce = 4) {
  const answers = new Map();
  const read = async (path) => {
    try {
      answers.set(path, await getJson(path));
    } catch {
      answers.set(path, null);
    }
  };
  for (let i = 0; i < paths.length; i += atOnce) await Promise.all(paths.slice(i, i + atOnce).map(read));
  return answers;
}

/**
 * A form's Idempotency-Key: kept while its request fails for want of an answer (no answer, a 5xx, a 409 while the first
 * is still running), so pressing the button again repeats the same request and the server acts once; replaced after any
 * other answer, so the next submission is a request of its own.
 */
export function formKey() {
  let key = newKey();
  let kept = false;
  /** The body the key last went out with: a kept key may only repeat that body (the API refuses another with a 422). */
  let sent = null;
  return {
    get: () => key,
    /** Whether the next submission repeats one that may have gone through (its key was kept). */
    repeating: () => kept,
    /**
     * Before sending `text` (the JSON body): throws ChangedSinceUnanswered when the key is kept for another body, and
     * lets the key go, so that pressing again, once the reader has looked, sends the new values as a request of their own.
     */
    check(text) {
      if (kept && sent !== text) {
        kept = false;
        key = newKey();
        throw new ChangedSinceUnanswered();
      }
      sent = text;
    },
    settle(err) {
      kept = err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.status === 409);
      if (!kept) key = newKey();
    },
  };
}

/**
 * Refused in the browser, before any request: the form was changed after a submission that got no answer, which may have
 * gone through. Sent with the kept key, the new values would be a 422 ("used with a different body"); sent with a fresh
 * one, a second action the reader may not want (a second case).
 */
export class ChangedSinceUnanswered extends ApiError {
  constructor() {
    super(0, {
      title: 'Your earlier submission may have gone through',
      detail:
        'it was not confirmed (no answer, or one that did not say), and the form has changed since. Reload the page to see whether it took effect; to send the new values as a request of their own, press the button again.',
    });
    this.local = true;
  }
}

/** POST with an Idempotency-Key: a formKey's when `key` is given (settled by the outcome), else a fresh one. */
export async function postJson(path, body, { idempotent = true, key } = {}) {
  key?.check(JSON.stringify(body));
  let res;
  try {
    res = await request(path, { method: 'POST', body, headers: idempotent ? { 'Idempotency-Key': key?.get() ?? newKey() } : {} });
  } catch (err) {
    key?.settle(err);
    throw err;
  }
  key?.settle();
  return res.status === 204 ? null : res.json();
}

const PLAIN = {
  0: 'The API did not answer',
  400: 'The request was not understood',
  401: 'Your token is unknown or revoked',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  422: 'Some fields need fixing',
  429: 'Too many requests, try again shortly',
  503: 'A service behind the API is unavailable, try again shortly',
};

/** One plain sentence for a failed request: "403 Not allowed: only the case's org (ceop) may do this". */
export function describeError(err) {
  if (!(err instanceof ApiError)) return `Something went wrong: ${String(err?.message ?? err)}`;
  // Refused before sending (ChangedSinceUnanswered): no status, its own words.
  if (err.local) return `${err.problem.title}: ${err.problem.detail}`;
  const head = PLAIN[err.status] ?? err.problem.title ?? 'Request failed';
  const detail = err.problem.detail && err.problem.detail !== head ? `: ${err.problem.detail}` : '';
  return `${err.status ? `${err.status} ` : ''}${head}${detail}`;
}
