// The offline verifier of NDJSON exports (npm run audit:verify-export): chains rebuilt from lines in any order, every
// link and hash checked, and saved heads compared, with no database.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, hashEntry } from '../../db/queries/audit';
import { ExportChecker } from '../../scripts/lib/export-check';

type Line = { caseId: string; seq: number; at: string; actor: { id: string; org: string } | null; action: string; data: Record<string, unknown>; prevHash: string; hash: string };

function chain(caseId: string, n: number): Line[] {
  const out: Line[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = { seq, at: `2026-11-26T10:00:0${seq}.000Z`, actor: seq === 1 ? { id: 'prn_lead', org: 'ceop' } : null, action: seq === 1 ? 'case.created' : 'task.created', data: { seq, note: 'ü "quoted"' }, prevHash };
    const hash = hashEntry(e);
    out.push({ caseId, ...e, hash });
    prevHash = hash;
  }
  return out;
}

function check(lines: (Line | string)[], heads: { caseId: string; seq: number; hash: string }[] = []) {
  const c = new ExportChecker();
  lines.forEach((l, i) => c.add(typeof l === 'string' ? l : JSON.stringify({ ...l, recordedAt: '2026-11-26T10:00:00.000001Z' }), `x:${i + 1}`));
  return c.finish(heads);
}

describe('ExportChecker', () => {
  const a = chain('case_a', 5);
  const b = chain('case_b', 3);

  it('rebuilds chains from lines in any order, repeated lines counted once', () => {
    const r = check([b[2], a[4], a[0], b[0], a[2], a[1], b[1], a[3], a[1]]);
    expect(r).toMatchObject({ lines: 9, repeated: 1, chains: 2, entries: 8, badLines: [], broken: [], partial: [] });
  });

  it('names a changed entry, a cut link and a missing entry at their seq', () => {
    const changed = { ...a[2], data: { seq: 3, note: 'other' } };
    expect(check([...a.slice(0, 2), changed, ...a.slice(3)]).broken).toEqual([{ caseId: 'case_a', seq: 3, detail: 'entry 3 does not hash to its hash: its content was changed' }]);
    const relinked = { ...a[3], prevHash: 'f'.repeat(64) };
    expect(check([...a.slice(0, 3), relinked]).broken[0]).toMatchObject({ seq: 4, detail: expect.stringMatching(/^entry 4 does not link to entry 3/) });
    expect(check([a[0], a[1], a[3], a[4]]).broken).toEqual([{ caseId: 'case_a', seq: 3, detail: 'entry 3 is missing: the export holds entries 2 and 4 but nothing between' }]);
  });

  it('takes a chain that starts after entry 1 (a time range) from where it starts, and says so', () => {
    const r = check([a[2], a[3], a[4]]);
    expect(r).toMatchObject({ broken: [], partial: [{ caseId: 'case_a', startsAt: 3 }], entries: 3 });
  });

  it("names an entry whose time is not a time ('infinity', as one stored before migration 0018 is exported), even with its hash right", () => {
    const e = { seq: 3, at: 'infinity', actor: null, action: 'task.created', data: {}, prevHash: a[1].hash };
    expect(check([a[0], a[1], { caseId: 'case_a', ...e, hash: hashEntry(e) }]).broken).toEqual([{ caseId: 'case_a', seq: 3, detail: 'entry 3 has no valid time (at "infinity")' }]);
  });

  it('names an entry dated before the one it follows, though every hash and link holds (the appender never writes one)', () => {
    // A whole chain forged consistently, with its second entry dated a year before its first.
    const e1 = { seq: 1, at: '2026-11-26T10:00:00.000Z', actor: { id: 'prn_lead', org: 'ceop' }, action: 'case.created', data: {}, prevHash: GENESIS_HASH };
    const h1 = hashEntry(e1);
    const e2 = { seq: 2, at: '2025-11-26T10:00:00.000Z', actor: null, action: 'task.created', data: {}, prevHash: h1 };
    const lines = [{ caseId: 'case_t', ...e1, hash: h1 }, { caseId: 'case_t', ...e2, hash: hashEntry(e2) }];
    expect(check(lines).broken).toEqual([
      { caseId: 'case_t', seq: 2, detail: 'entry 2 is dated 2025-11-26T10:00:00.000Z, before entry 1 (2026-11-26T10:00:00.000Z): the appender raises such a time to the previous entry\'s' },
    ]);
    // The same time twice is in order (a workflow task's entries share its time).
    const e2same = { ...e2, at: e1.at };
    expect(check([lines[0], { caseId: 'case_t', ...e2same, hash: hashEntry(e2same) }]).broken).toEqual([]);
    // Judged only where the line says when it was written (a `since` export): a time-range export's lines do not.
    const c = new ExportChecker();
    lines.forEach((l, i) => c.add(JSON.stringify(l), `t:${i + 1}`));
    expect(c.finish().broken).toEqual([]);
    // Nor after a time more than an hour past when the entry was written, which the appender does not follow (one
    // stored before migration 0018, or a database clock set back by more than an hour since).
    const f1 = { ...e1, at: '2026-11-26T12:00:00.000Z' };
    const g1 = hashEntry(f1);
    const f2 = { ...e2, at: '2026-11-26T10:00:00.500Z', prevHash: g1 };
    expect(check([{ caseId: 'case_f', ...f1, hash: g1 }, { caseId: 'case_f', ...f2, hash: hashEntry(f2) }]).broken).toEqual([]);
  });

  it('hashes what a line holds, not what its schema keeps: a member added to actor, a __proto__ key in data', () => {
    const raw = (l: Line) => JSON.stringify(l);
    // Text edits of honest lines, as a forger would make them in the file.
    const extraActor = raw(a[0]).replace('"org":"ceop"}', '"org":"ceop","onBehalfOf":"judge"}');
    const protoKey = raw(a[1]).replace('"data":{', '"data":{"__proto__":{"note":"forged"},');
    expect([extraActor, protoKey].every((l, i) => l !== raw(a[i]))).toBe(true);
    for (const [line, seq] of [[extraActor, 1], [protoKey, 2]] as const) {
      const lines = a.map((l, i) => (i === seq - 1 ? line : l));
      expect(check(lines).broken, `entry ${seq}`).toEqual([{ caseId: 'case_a', seq, detail: `entry ${seq} does not hash to its hash: its content was changed` }]);
    }
  });

  it('refuses a line that is not as the export writes it: a key given twice (the forged value first), a member no entry has', () => {
    const raw = (l: Line) => JSON.stringify(l);
    // JSON.parse keeps the last of a key given twice: with the genuine value last, the line hashes right, while a reader
    // of the file (or a parser that keeps the first) sees the forged one.
    const lines = [
      raw(a[0]),
      raw(a[1]).replace('"action":"task.created"', '"action":"case.closed","action":"task.created"'),
      raw(a[2]).replace('"data":', '"data":{"seq":3,"note":"forged"},"data":'),
      raw(a[3]).replace('"note":', '"note":"forged","note":'),
      raw(a[4]).replace('"hash":', '"approvedBy":"judge","hash":'),
      // Nor can the export write a number past JSON's range: 1e400 parses to Infinity, which it would write as null.
      raw(b[0]).replace('"data":{', '"data":{"amount":1e400,'),
    ];
    const r = check(lines);
    expect(r.badLines).toEqual([
      `x:2: not as the export writes it, from character ${raw(a[1]).indexOf('"action":') + 11} (a key given twice, or the line edited)`,
      expect.stringMatching(/^x:3: not as the export writes it, from character \d+ \(a key given twice, or the line edited\)$/),
      expect.stringMatching(/^x:4: not as the export writes it/),
      'x:5: not an audit entry (the line Unrecognized key: "approvedBy")',
      expect.stringMatching(/^x:6: not as the export writes it/),
    ]);
    // A refused line is no entry.
    expect(r.entries).toBe(1);
    // The export's own lines pass: a time-range line as it is, a `since` line with recordedAt (null: written before
    // migration 0011), in the export's order.
    const c = new ExportChecker();
    c.add(raw(b[0]), 'r:1');
    c.add(JSON.stringify({ ...b[1], recordedAt: null }), 'r:2');
    c.add(JSON.stringify({ ...b[2], recordedAt: '2026-11-26T10:00:00.000001Z' }), 'r:3');
    expect(c.finish()).toMatchObject({ lines: 3, entries: 3, badLines: [], broken: [] });
  });

  it('goes on past the first bad entry: a later changed entry and a later missing one are named at their seq', () => {
    const long = chain('case_c', 9);
    // Entry 2 changed long ago (the chain's first departure); later, entry 6 is changed and entry 8 taken out.
    const changed = (l: Line) => ({ ...l, data: { ...l.data, note: 'forged' } });
    const lines = long.flatMap((l) => (l.seq === 2 || l.seq === 6 ? [changed(l)] : l.seq === 8 ? [] : [l]));
    const r = check(lines.reverse());
    expect(r.broken).toEqual([{ caseId: 'case_c', seq: 2, detail: 'entry 2 does not hash to its hash: its content was changed' }]);
    expect(r.badEntries).toEqual([
      { caseId: 'case_c', seq: 2, detail: 'entry 2 does not hash to its hash: its content was changed' },
      { caseId: 'case_c', seq: 6, detail: 'entry 6 does not hash to its hash: its content was changed' },
      { caseId: 'case_c', seq: 8, detail: 'entry 8 is missing: the export holds entries 7 and 9 but nothing between' },
    ]);
    expect(r.entries).toBe(8);
  });

  it('takes a chain of 200,000 entries that lacks entry 1 and entry 3: the missing entries named, no stack overflow', () => {
    // Lines written as the export writes them, hashed as hashEntry does (checked on entry 1): RFC 8785 sorts the keys.
    const at = '2026-11-26T10:00:00.000Z';
    const lines: string[] = [];
    let prevHash = GENESIS_HASH;
    for (let seq = 1; seq <= 200_000; seq++) {
      const hash = createHash('sha256').update(`${prevHash}{"action":"task.created","actor":null,"at":"${at}","data":{},"prevHash":"${prevHash}","seq":${seq}}`).digest('hex');
      if (seq === 1) expect(hash).toBe(hashEntry({ seq, at, actor: null, action: 'task.created', data: {}, prevHash }));
      if (seq !== 1 && seq !== 3) lines.push(`{"caseId":"case_big","seq":${seq},"at":"${at}","actor":null,"action":"task.created","data":{},"prevHash":"${prevHash}","hash":"${hash}"}`);
      prevHash = hash;
    }
    const c = new ExportChecker();
    lines.forEach((l, i) => c.add(l, `big:${i + 1}`));
    const r = c.finish([], { complete: true });
    expect(r).toMatchObject({ lines: 199_998, entries: 199_998, badLines: [], partial: [{ caseId: 'case_big', startsAt: 2 }] });
    expect(r.broken).toEqual([{ caseId: 'case_big', seq: 1, detail: 'entries 1 to 1 are missing: the export holds the chain only from entry 2' }]);
    expect(r.badEntries).toEqual([
      { caseId: 'case_big', seq: 1, detail: 'entries 1 to 1 are missing: the export holds the chain only from entry 2' },
      { caseId: 'case_big', seq: 3, detail: 'entry 3 is missing: the export holds entries 2 and 4 but nothing between' },
    ]);
  });

  it('refuses lines that are not entries, and a second, different entry for one seq', () => {
    const r = check(['{"nope":1}', 'not json', a[0], { ...a[0], data: { forged: true } }]);
    expect(r.badLines).toEqual([
      expect.stringMatching(/^x:1: not an audit entry/),
      'x:2: not JSON',
      expect.stringMatching(/^x:4: a second, different entry 1 of case_a/),
    ]);
  });

  it('checks saved heads: held, another hash, missing inside what the export holds, beyond it', () => {
    const head = (l: Line, hash = l.hash) => ({ caseId: l.caseId, seq: l.seq, hash });
    const r = check([a[0], a[1], a[3], a[4], b[0]], [head(a[4]), head(b[0], 'e'.repeat(64)), head(a[2]), head(b[2]), { caseId: 'case_z', seq: 1, hash: GENESIS_HASH }]);
    expect(r.heads).toEqual({
      checked: 5,
      notInExport: 2,
      problems: [
        { caseId: 'case_b', seq: 1, hash: 'e'.repeat(64), detail: `entry 1 of case_b has hash ${b[0].hash} in the export, not the saved ${'e'.repeat(64)}` },
        { caseId: 'case_a', seq: 3, hash: a[2].hash, detail: 'entry 3 of case_a is missing from the export, which holds the chain from 1 to 5' },
      ],
    });
  });

  it('with complete, a head the export does not reach does not hold (a mirror that lost its tail or a chain)', () => {
    const c = new ExportChecker();
    [a[0], a[1], a[2]].forEach((l, i) => c.add(JSON.stringify(l), `m:${i + 1}`));
    const r = c.finish([{ caseId: 'case_a', seq: 5, hash: a[4].hash }, { caseId: 'case_b', seq: 3, hash: b[2].hash }], { complete: true });
    expect(r.heads).toEqual({
      checked: 2,
      notInExport: 0,
      problems: [
        { caseId: 'case_a', seq: 5, hash: a[4].hash, detail: 'the export holds case_a only up to entry 3, short of the saved head' },
        { caseId: 'case_b', seq: 3, hash: b[2].hash, detail: 'the export holds no entry of case_b' },
      ],
    });
  });
  it('with complete, a mirror that lost the start of a chain (its case.created entry) does not pass', () => {
    // A `since` mirror kept from the beginning holds entry 1 of every chain; lines 1 and 2 of case_a were taken out of
    // the file. The saved head (entry 5) is still there, so only the start tells.
    const c = new ExportChecker();
    [a[2], a[3], a[4], ...b].forEach((l, i) => c.add(JSON.stringify(l), `m:${i + 1}`));
    const r = c.finish([{ caseId: 'case_a', seq: 5, hash: a[4].hash }, { caseId: 'case_b', seq: 3, hash: b[2].hash }], { complete: true });
    const ok = r.badLines.length === 0 && r.broken.length === 0 && r.heads.problems.length === 0;
    expect(r.partial).toEqual([{ caseId: 'case_a', startsAt: 3 }]);
    expect(ok, 'npm run audit:verify-export -- --complete exits 0 for a mirror missing entries 1-2 of case_a').toBe(false);
    expect(r.broken).toEqual([{ caseId: 'case_a', seq: 1, detail: 'entries 1 to 2 are missing: the export holds the chain only from entry 3' }]);
    // A head before where the mirror's part starts is missing from it, not beyond it.
    const early = new ExportChecker();
    [a[2], a[3], a[4]].forEach((l, i) => early.add(JSON.stringify(l), `m:${i + 1}`));
    expect(early.finish([{ caseId: 'case_a', seq: 2, hash: a[1].hash }], { complete: true }).heads.problems).toEqual([
      { caseId: 'case_a', seq: 2, hash: a[1].hash, detail: 'entry 2 of case_a is missing from the export, which holds the chain only from entry 3' },
    ]);
    // Without --complete the same part is a time range: taken from where it starts, the earlier head beyond it.
    expect(check([a[2], a[3], a[4]], [{ caseId: 'case_a', seq: 2, hash: a[1].hash }])).toMatchObject({ broken: [], heads: { notInExport: 1, problems: [] } });
  });
});
