// The inbox cache's pure pieces: the key (everything a page depends on), ETags and If-None-Match.
import { describe, expect, it } from 'vitest';
import { etagOf, inboxKey, noneMatchHits } from '../../api/inbox-cache';
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
