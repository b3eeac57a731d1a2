// The audit hash formula as the contract states it, independent of the database.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, hashEntry } from '../../db/queries/audit';

const entry = {
  seq: 1,
  at: '2026-03-01T10:00:00.000Z',
  actor: { id: 'p_1', org: 'ceop' },
  action: 'case.created',
  data: { reference: 'EFC-2026-0042', n: 2, nested: { b: 1, a: [true, null] } },
  prevHash: GENESIS_HASH,
};

describe('hashEntry', () => {
  it('is sha256 of prevHash followed by the RFC 8785 JSON of the entry without hash', () => {
    // Written out by hand: keys sorted at every level, no whitespace.
    const canonical =
      '{"action":"case.created","actor":{"id":"p_1","org":"ceop"},"at":"2026-03-01T10:00:00.000Z",' +
      '"data":{"n":2,"nested":{"a":[true,null],"b":1},"reference":"EFC-2026-0042"},' +
      `"prevHash":"${GENESIS_HASH}","seq":1}`;
    const expected = createHash('sha256').update(GENESIS_HASH + canonical).digest('hex');
    expect(hashEntry(entry)).toBe(expected);
    expect(hashEntry(entry)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on key order, and changes with any field', () => {
    const reordered = { prevHash: entry.prevHash, data: { nested: { a: [true, null], b: 1 }, n: 2, reference: 'EFC-2026-0042' }, action: entry.action, at: entry.at, actor: { org: 'ceop', id: 'p_1' }, seq: 1 };
    expect(hashEntry(reordered)).toBe(hashEntry(entry));
    const h = hashEntry(entry);
    expect(hashEntry({ ...entry, seq: 2 })).not.toBe(h);
    expect(hashEntry({ ...entry, at: '2026-03-01T10:00:00.001Z' })).not.toBe(h);
    expect(hashEntry({ ...entry, actor: null })).not.toBe(h);
    expect(hashEntry({ ...entry, action: 'case.closed' })).not.toBe(h);
    expect(hashEntry({ ...entry, data: { ...entry.data, n: 3 } })).not.toBe(h);
    expect(hashEntry({ ...entry, prevHash: 'f'.repeat(64) })).not.toBe(h);
  });

  it('ignores members outside the hashed shape', () => {
    expect(hashEntry({ ...entry, hash: 'whatever', caseId: 'x' } as typeof entry)).toBe(hashEntry(entry));
  });

  it('starts chains from 64 zeros', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });
});
