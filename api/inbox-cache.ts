// Inbox pages kept between requests, each with its org's inbox version, and served again while that version is unchanged.
//
// Partners poll their inboxes with the same query again and again. Migration 0014 keeps a version per org that every
// write of its tasks bumps in the same transaction, so a page read in one statement with version v is exactly the page
// any later statement would read while the org is still at v. A request reads the version (one indexed row), and when it
// equals the cached page's, the page's bytes are sent as they are: no page query, no JSON handling, no new garbage.
// Otherwise the page and the version are read in one statement and kept. The answer is never older than the request:
// the version read is made after it arrived (requests that arrive together share one such read), and only a page of
// that very version is sent.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { inboxPage, inboxPageAndVersion, inboxVersion, type InboxFilter, type InboxPage } from '../db/queries/tasks';

/** TAKEDOWN_INBOX_CACHE_MB's default: megabytes of inbox pages (bodies and keys) one API process keeps. */
export const DEFAULT_INBOX_CACHE_MB = 32;

/** Bytes an entry takes beyond its body and key (the entry object, the map's slot), as a rough allowance. */
const ENTRY_OVERHEAD = 200;

export interface InboxAnswer {
  /** The exact JSON bytes of the answer. */
  body: Buffer;
  /** A strong ETag of these bytes (the same in every API process). */
  etag: string;
  /**
   * hit: the cached page, its version read again; shared: another request's read of the same page and version, in flight
   * when this one found its copy out of date; miss: read from the tasks; off: no cache in this process.
   */
  cache: 'hit' | 'shared' | 'miss' | 'off';
}

interface Entry {
  version: string;
  body: Buffer;
  etag: string;
}

/** A strong validator of the bytes (RFC 9110 8.8.3): 128 bits of their SHA-256, base64url, quoted. */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 13.1.2 asks), or is `*`. */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return (t.startsWith('W/') ? t.slice(2) : t) === etag;
  });
}

/**
 * Everything the page depends on besides the org's tasks: the org, the caller's roles as a set, and every filter. Two
 * callers share a page only when all of these are equal.
 */
export function inboxKey(f: InboxFilter): string {
  const roles = [...new Set(f.roles)].sort();
  return JSON.stringify([f.org, roles, f.status ?? null, f.caseId ?? null, f.type ?? null, f.sort ?? 'created', f.after?.at ?? null, f.after?.id ?? null, f.limit]);
}

/** Renders a page as the answer's JSON text (the route's format, with its cursor). */
export type RenderPage = (page: InboxPage) => string;

/** One API process's inbox pages; `maxBytes` 0 keeps none (every request reads its page). */
export class InboxCache {
  /** Bounded by the bytes of the bodies and keys held, least recently used evicted first. */
  private readonly lru: LRUCache<string, Entry> | undefined;
  /** Reads of a page from the tasks in flight, by key: a request that finds its copy out of date may share one. */
  private readonly reading = new Map<string, Promise<Entry>>();
  /** Reads of an org's version, by org: the one running, and the one callers that came during it wait for (freshVersion). */
  private readonly versionReads = new Map<string, { running: Promise<string>; next: Promise<string> | undefined }>();

  constructor(maxBytes: number) {
    this.lru = maxBytes > 0 ? new LRUCache<string, Entry>({ maxSize: maxBytes, sizeCalculation: (entry, key) => entry.body.length + key.length * 2 + ENTRY_OVERHEAD }) : undefined;
  }

  /** Entries and bytes held (tests, diagnostics). */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.lru?.size ?? 0, bytes: this.lru?.calculatedSize ?? 0 };
  }

  async answer(pool: pg.Pool, f: InboxFilter, render: RenderPage): Promise<InboxAnswer> {
    if (!this.lru) {
      const body = Buffer.from(render(await inboxPage(pool, f)), 'utf8');
      return { body, etag: etagOf(body), cache: 'off' };
    }
    const key = inboxKey(f);
    const cached = this.lru.peek(key);
    // A page never read before is read with its version at once, without asking for the version first.
    if (cached) {
      const version = await this.freshVersion(pool, f.org);
      // What is held now: another request may have kept a newer page while this one waited for the version.
      const held = this.lru.peek(key);
      if (held?.version === version) {
        this.lru.get(key);
        return { ...held, cache: 'hit' };
      }
      // Another request may be reading this page anew: its answer serves this one too if it is of the version just read
      // (a page of the same version is the same page), and it cannot be older, since that version was read after arrival.
      const inFlight = this.reading.get(key);
      if (inFlight) {
        const other = await inFlight.catch(() => undefined);
        if (other?.version === version) return { ...other, cache: 'shared' };
      }
    }
    return { ...(await this.read(pool, f, key, render)), cache: 'miss' };
  }

  /**
   * The org's version, read by a statement that starts after this call, shared by the calls that come together: while a
   * read runs (it may have started before this call, so it cannot serve it), callers wait for one next read, started
   * when the running one ends, and share it. Under many clients polling one org, each read then serves a whole batch.
   */
  private freshVersion(pool: pg.Pool, org: string): Promise<string> {
    const slot = this.versionReads.get(org);
    if (!slot) return this.startVersionRead(pool, org);
    const settled = () => undefined;
    slot.next ??= slot.running.then(settled, settled).then(() => this.startVersionRead(pool, org));
    return slot.next;
  }

  /** Starts a read of the org's version as the org's running one; its slot goes when it ends and no caller waits for a next. */
  private startVersionRead(pool: pg.Pool, org: string): Promise<string> {
    const read = inboxVersion(pool, org);
    const slot: { running: Promise<string>; next: Promise<string> | undefined } = { running: read, next: undefined };
    this.versionReads.set(org, slot);
    // Runs before a next read starts (registered before any caller's wait on it).
    const ended = () => {
      if (this.versionReads.get(org) === slot && slot.next === undefined) this.versionReads.delete(org);
    };
    read.then(ended, ended);
    return read;
  }

  private async read(pool: pg.Pool, f: InboxFilter, key: string, render: RenderPage): Promise<Entry> {
    const reading = (async () => {
      const { version, page } = await inboxPageAndVersion(pool, f);
      const body = Buffer.from(render(page), 'utf8');
      return { version, body, etag: etagOf(body) };
    })();
    this.reading.set(key, reading);
    try {
      const entry = await reading;
      this.keep(key, entry);
      return entry;
    } finally {
      if (this.reading.get(key) === reading) this.reading.delete(key);
    }
  }

  /** Keeps the entry unless a newer version of the page is kept already (reads may end out of order). */
  private keep(key: string, entry: Entry): void {
    const held = this.lru!.peek(key);
    if (held && BigInt(held.version) > BigInt(entry.version)) return;
    this.lru!.set(key, entry);
  }
}
