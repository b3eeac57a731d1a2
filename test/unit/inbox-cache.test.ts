// The inbox cache's pure pieces (the key: everything a page depends on; ETags and If-None-Match), and how requests that
// come together share reads of their org's version, against a pool whose answers the test releases one by one.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { etagOf, InboxCache, inboxKey, noneMatchHits } from '../../api/inbox-cache';
import type { InboxFilter } from '../../db/queries/tasks';

describe('inbox keys', () => {
  const base: InboxFilter = { org: 'visa', roles: ['partner'], status: 'open', sort: 'created', limit: 50 };
  it('tell apart every org, role set and filter, and take roles as a set', () => {
    const keys = [
      base,
      { ...base, org: 'paypal' },
      { ...base, roles: ['partner', 'analyst'] },
      { ...base, status: 'completed' as const },
      { ...base, caseId: 'case_1' },
      { ...base, type: 'confirm_freeze' as const },
      { ...base, sort: 'due' as const },
      { ...base, after: { at: '2026-01-01T00:00:00.000Z', id: 'tsk_1' } },
      { ...base, after: { at: '2026-01-01T00:00:00.000Z', id: 'tsk_2' } },
      { ...base, limit: 10 },
    ].map(inboxKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(inboxKey({ ...base, roles: ['b', 'a', 'b'] })).toBe(inboxKey({ ...base, roles: ['a', 'b'] }));
    // An org name cannot run into the roles: the key is JSON, not a joined string.
    expect(inboxKey({ ...base, org: 'a","b' })).not.toBe(inboxKey({ ...base, org: 'a', roles: ['b'] }));
  });
});

describe('ETags', () => {
  it('are strong, quoted, the same for the same bytes and different for others', () => {
    const a = etagOf(Buffer.from('{"items":[],"nextCursor":null}'));
    expect(a).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(etagOf(Buffer.from('{"items":[],"nextCursor":null}'))).toBe(a);
    expect(etagOf(Buffer.from('{"items":[],"nextCursor":"x"}'))).not.toBe(a);
  });

  it('match If-None-Match by weak comparison, in a list, or *', () => {
    const tag = '"abc"';
    expect(noneMatchHits(undefined, tag)).toBe(false);
    expect(noneMatchHits('', tag)).toBe(false);
    expect(noneMatchHits('"abc"', tag)).toBe(true);
    expect(noneMatchHits('W/"abc"', tag)).toBe(true);
    expect(noneMatchHits('"x", "abc"', tag)).toBe(true);
    expect(noneMatchHits('"x","y"', tag)).toBe(false);
    expect(noneMatchHits('abc', tag)).toBe(false);
    expect(noneMatchHits(' * ', tag)).toBe(true);
  });
});

describe('version reads shared by requests that come together', () => {
  /** A pool whose version reads wait until the test answers them, in order; a page read answers at once with `version`. */
  function heldPool() {
    const versionReads: { answer: (version: string) => void }[] = [];
    let version = '1';
    const pool = {
      query: (config: pg.QueryConfig) => {
        if (config.text.startsWith('SELECT version FROM inbox_versions')) {
          return new Promise((resolve) => versionReads.push({ answer: (v) => resolve({ rows: [{ version: v }] }) }));
        }
        return Promise.resolve({ rows: [{ version, doc: null }] });
      },
    } as unknown as pg.Pool;
    return { pool, versionReads, setPageVersion: (v: string) => (version = v) };
  }
  const flush = () => new Promise((r) => setTimeout(r, 0));
  const filter: InboxFilter = { org: 'visa', roles: ['partner'], status: 'open', sort: 'created', limit: 50 };
  const render = () => '{"items":[],"nextCursor":null}';

  it('never serve a request from a read that began before it came, and serve a whole batch with one read after it', async () => {
    const { pool, versionReads, setPageVersion } = heldPool();
    const cache = new InboxCache(1 << 20);
    expect((await cache.answer(pool, filter, render)).cache).toBe('miss'); // the page, at version 1, read with it

    const first = cache.answer(pool, filter, render);
    await flush();
    expect(versionReads).toHaveLength(1);
    // Nine more come while the first one's read runs: it began before them, so they wait for one read of their own.
    const batch = Array.from({ length: 9 }, () => cache.answer(pool, filter, render));
    await flush();
    expect(versionReads).toHaveLength(1);
    versionReads[0].answer('1');
    expect((await first).cache).toBe('hit');
    await flush();
    expect(versionReads).toHaveLength(2);
    // A write commits (version 2) before the batch's read: the batch must see it, and reads its page anew.
    setPageVersion('2');
    const late = cache.answer(pool, filter, render); // comes while the batch's read runs: the next read is its own
    await flush();
    versionReads[1].answer('2');
    const answers = await Promise.all(batch);
    expect(answers.map((a) => a.cache).sort()).toEqual(['miss', ...Array(8).fill('shared')]);
    await flush();
    expect(versionReads).toHaveLength(3);
    versionReads[2].answer('2');
    expect((await late).cache).toBe('hit');
    // Alone again, a request starts its own read at once.
    const alone = cache.answer(pool, filter, render);
    await flush();
    expect(versionReads).toHaveLength(4);
    versionReads[3].answer('2');
    expect((await alone).cache).toBe('hit');
  });
});
