// The dependency-free verifier an auditor copies out of the repository (scripts/standalone/verify-export.mjs) agrees
// with Takedown's own hash and checker, and with the test vectors docs/audit-verification.md publishes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, hashEntry } from '../../db/queries/audit';
import { ExportChecker } from '../../scripts/lib/export-check';
// @ts-expect-error: plain JavaScript without type declarations, on purpose (it must run with Node alone)
import { canonical, entryHash, verify } from '../../scripts/standalone/verify-export.mjs';
import { ROOT } from '../support/paths';

const run = promisify(execFile);
type Entry = { seq: number; at: string; actor: { id: string; org: string } | null; action: string; data: Record<string, unknown>; prevHash: string };
type Line = Entry & { caseId: string; hash: string; recordedAt?: string | null };

/** A chain of `n` entries hashed by Takedown's own hashEntry, one second apart. */
function chain(caseId: string, n: number, data: (seq: number) => Record<string, unknown> = (seq) => ({ seq })): Line[] {
  const out: Line[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e: Entry = { seq, at: new Date(Date.UTC(2026, 10, 27, 10, 0, seq)).toISOString(), actor: seq === 1 ? { id: 'prn_lead', org: 'ceop' } : null, action: seq === 1 ? 'case.created' : 'task.created', data: data(seq), prevHash };
    const hash = hashEntry(e);
    out.push({ caseId, ...e, hash });
    prevHash = hash;
  }
  return out;
}

const text = (l: Line | string) => (typeof l === 'string' ? l : JSON.stringify(l));
/** The cases and seqs each checker calls broken, and the heads each says do not hold. */
function verdicts(lines: (Line | string)[], heads: { caseId: string; seq: number; hash: string }[] = [], complete = false) {
  const mine = new ExportChecker();
  lines.forEach((l, i) => mine.add(text(l), `x:${i + 1}`));
  const r = mine.finish(heads, { complete });
  const theirs = verify(lines.map((l, i) => ({ text: text(l), where: `x:${i + 1}` })), heads, { complete }) as { problems: string[] };
  const seqsOf = (ps: string[]) => [...new Set(ps.filter((p) => p.startsWith('BROKEN')).map((p) => /case=(\S+) seq=(\d+)/.exec(p)!.slice(1).join('#')))].sort();
  return {
    takedown: { broken: [...new Set(r.badEntries.map((b) => `${b.caseId}#${b.seq}`))].sort(), badLines: r.badLines.length, heads: r.heads.problems.length },
    standalone: { broken: seqsOf(theirs.problems), badLines: theirs.problems.filter((p) => p.startsWith('BAD LINE')).length, heads: theirs.problems.filter((p) => p.startsWith('HEAD')).length },
  };
}

describe('the standalone verifier', () => {
  it('writes canonical JSON as the RFC 8785 library Takedown uses does, on values JCS treats specially', () => {
    const values: unknown[] = [
      { b: 1, a: [1e21, 1e-7, -0, 0.1 + 0.2, 9007199254740993, 5e-324, 1.7976931348623157e308], 'é': 'é', e: '\u2028\u0000"\\', '😀': 1, '\uffff': 2 },
      JSON.parse('{"__proto__":{"x":1},"z":[{"y":null,"x":true}],"":""}'),
      [],
      'a pair of surrogates \ud83d\ude00, written as the character',
      { nested: { deeper: { deepest: [[[]]] } } },
    ];
    for (const v of values) expect(canonical(v)).toBe(canonicalize(v));
    expect(() => canonical({ n: JSON.parse('1e400') })).toThrow(/outside JSON/);
    // Half of a surrogate pair (JSON.parse reads "\ud800" so) is not text: both refuse it, in a value or a key.
    for (const v of [{ s: 'a \ud800 b' }, JSON.parse('{"\\udc00":1}')]) {
      expect(() => canonicalize(v)).toThrow();
      expect(() => canonical(v)).toThrow(/lone surrogate/);
    }
  });

  it("hashes entries as Takedown's hashEntry does", () => {
    const tricky = chain('case_h', 6, (seq) => ({ seq, text: 'ü "quoted" \u2028', n: seq / 3, list: [seq, { k: null }], '€': seq % 2 === 0 }));
    for (const e of tricky) expect(entryHash(e)).toBe(e.hash);
  });

  it('matches the test vectors docs/audit-verification.md publishes, and finds both lines there intact', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'audit-verification.md'), 'utf8');
    const hashes = [...doc.matchAll(/^hash = ([0-9a-f]{64})$/gm)].map((m) => m[1]);
    const lines = [...doc.matchAll(/^(\{"caseId":"case_vector".*\})$/gm)].map((m) => m[1]);
    expect(hashes).toHaveLength(2);
    expect(lines).toHaveLength(2);
    lines.forEach((l, i) => {
      const { caseId: _c, hash, ...entry } = JSON.parse(l);
      expect(hash).toBe(hashes[i]);
      expect(hashEntry(entry)).toBe(hash);
      expect(entryHash(entry)).toBe(hash);
    });
    expect(verify(lines.map((l, i) => ({ text: l, where: `doc:${i + 1}` })))).toEqual({ chains: 1, entries: 2, problems: [] });
  });

  it("agrees with Takedown's checker on what is intact, broken, a bad line, and a head not held", () => {
    const a = chain('case_a', 6);
    const b = chain('case_b', 3);
    const rehash = (l: Line, change: Partial<Entry>): Line => {
      const e = { ...l, ...change };
      const { caseId, hash: _h, ...entry } = e;
      return { caseId, ...entry, hash: hashEntry(entry) };
    };
    const heads = [{ caseId: 'case_a', seq: 4, hash: a[3].hash }, { caseId: 'case_b', seq: 3, hash: b[2].hash }];
    /** As a `since` export writes an entry: with when the database wrote it, a second after its time. */
    const recorded = (l: Line): Line => ({ ...l, recordedAt: new Date(Date.parse(l.at) + 1_000).toISOString() });
    // Entry 2 linked to a far-future entry 1 and dated now, as the appender wrote it after such an entry.
    const future = rehash(a[0], { at: '9999-01-01T00:00:00.000Z' });
    const relinked = rehash(a[1], { prevHash: future.hash });
    const cases: [string, (Line | string)[], typeof heads, boolean][] = [
      ['intact, lines in any order', [b[2], a[4], a[0], b[0], a[2], a[1], b[1], a[3], a[5]], heads, true],
      ['a changed entry', [a[0], a[1], { ...a[2], data: { seq: 30 } }, ...a.slice(3)], [], false],
      ['a cut link', [a[0], a[1], a[2], { ...a[3], prevHash: 'f'.repeat(64) }], [], false],
      ['a missing entry', [a[0], a[1], a[3], a[4]], [], false],
      ['a chain rewritten whole, with fresh hashes: only the saved head tells', chain('case_a', 6, (seq) => ({ seq, forged: true })), heads.slice(0, 1), false],
      ['an entry dated before the one it follows, in a since export (recordedAt: the appender would have raised it)', [recorded(a[0]), { ...rehash(a[1], { at: '2020-01-01T00:00:00.000Z' }), recordedAt: recorded(a[1]).recordedAt }], [], false],
      ['the same in a time-range export, which says nothing of when entries were written: not judged', [a[0], rehash(a[1], { at: '2020-01-01T00:00:00.000Z' })], [], false],
      ['after a far-future entry (stored before 0018), which the appender does not follow: not judged', [recorded(rehash(a[0], { at: '9999-01-01T00:00:00.000Z' })), recorded(relinked)], [], false],
      ['a line holding half a surrogate pair', [a[0], rehash(a[1], {}), text(a[2]).replace('"seq":3}', '"seq":3,"s":"\\ud800"}')], [], false],
      ['the same entries from two overlapping exports, one with recordedAt', [...a.slice(0, 3), ...a.slice(1, 4).map(recorded)], [], false],
      ['a time range: the chain from entry 3, its first link taken as given', a.slice(2), [], false],
      ['the same under --complete: the lost start is broken', a.slice(2), [], true],
      ['a saved head beyond the export, and under --complete', a.slice(0, 2), heads.slice(0, 1), false],
      ['the same under --complete', a.slice(0, 2), heads.slice(0, 1), true],
      ['a key given twice (the forged action first)', [a[0], text(a[1]).replace('"action":"task.created"', '"action":"case.closed","action":"task.created"')], [], false],
      ['a line that is not JSON, and one that is not an entry', [a[0], '{"seq":', '{"caseId":"case_a"}'], [], false],
      ['two different entries for one seq', [a[0], a[1], { ...a[1], data: { other: true } }], [], false],
    ];
    for (const [what, lines, saved, complete] of cases) {
      const v = verdicts(lines, saved, complete);
      expect(v.standalone, what).toEqual(v.takedown);
    }
    // And the verdicts are the ones expected, not merely equal.
    expect(verdicts(cases[0][1], heads, true).takedown).toEqual({ broken: [], badLines: 0, heads: 0 });
    expect(verdicts(cases[4][1], heads.slice(0, 1)).takedown).toEqual({ broken: [], badLines: 0, heads: 1 });
    expect(verdicts(cases[5][1]).takedown.broken).toEqual(['case_a#2']);
    expect(verdicts(cases[6][1]).takedown.broken).toEqual([]);
    expect(verdicts(cases[7][1]).takedown.broken).toEqual([]);
    expect(verdicts(cases[8][1]).takedown.broken).toEqual(['case_a#3']);
    expect(verdicts(cases[9][1]).takedown).toEqual({ broken: [], badLines: 0, heads: 0 });
  });

  it('runs on its own as a command: exit 0 on an intact export with its heads, 1 on a changed line, 2 on misuse', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'takedown-standalone-'));
    const file = path.join(dir, 'export.ndjson');
    const headsFile = path.join(dir, 'heads.json');
    const a = chain('case_a', 4);
    writeFileSync(file, `${a.map(text).join('\n')}\n`);
    writeFileSync(headsFile, JSON.stringify({ heads: [{ caseId: 'case_a', seq: 4, hash: a[3].hash }] }));
    const script = path.join(ROOT, 'scripts', 'standalone', 'verify-export.mjs');
    // Run from a folder outside the repository, with no NODE_OPTIONS or loaders: Node alone.
    const cli = (args: string[]) =>
      run(process.execPath, [script, ...args], { cwd: dir, env: { PATH: process.env.PATH } }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const ok = await cli([file, '--heads', headsFile, '--complete']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('1 chain(s), 4 entries, 1 saved head(s): all hold\n');
    writeFileSync(file, `${[a[0], { ...a[1], action: 'case.closed' }, a[2], a[3]].map(text).join('\n')}\n`);
    const broken = await cli([file, '--heads', headsFile]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe('BROKEN case=case_a seq=2: does not hash to its hash: its content was changed\n');
    expect(broken.stderr).toBe('1 chain(s), 4 entries, 1 saved head(s): 1 problem(s)\n');
    expect((await cli([])).code).toBe(2);
    expect((await cli([file, '--strict'])).code).toBe(2);
    // A heads file is read as strictly as Takedown's checker reads it: a head with another member, or seq 0, is refused.
    for (const head of [{ caseId: 'case_a', seq: 4, hash: a[3].hash, noticeId: 'ntc_1' }, { caseId: 'case_a', seq: 0, hash: a[3].hash }]) {
      writeFileSync(headsFile, JSON.stringify({ heads: [head] }));
      const refused = await cli([file, '--heads', headsFile]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/is not a heads file/);
    }
  });
});
