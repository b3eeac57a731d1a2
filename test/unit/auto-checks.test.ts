// The automatic checks the analyst sees on verify_evidence: malformed hashes, unparseable URLs, real duplicates only.
import { describe, expect, it } from 'vitest';
import type { CaseState } from '../../workflows/case-state';
import { autoChecks } from '../../workflows/steps/verification';

const stateWith = (urls: string[], hosting: { provider: string; urls: string[] }[], hashes = ['a'.repeat(64)]) =>
  ({ view: { evidence: hashes.map((sha256) => ({ kind: 'screenshot_hash', sha256 })), merchant: { urls, hosting } } }) as unknown as CaseState;

describe('automatic checks before verification', () => {
  it("takes a shop URL listed under urls and again under its host, as the contract's example lists it", () => {
    const shop = 'https://shop.example.test/a';
    expect(autoChecks(stateWith([shop], [{ provider: 'host-example', urls: [shop] }]))).toMatchObject({ duplicateUrls: [], passed: true });
  });

  it('names a URL repeated within one list, or named for two hosting providers', () => {
    const a = 'https://shop.example.test/a';
    const b = 'https://shop.example.test/b';
    const c = 'https://cdn.example.test/c';
    const checks = autoChecks(stateWith([a, a], [{ provider: 'host-one', urls: [b, b, c] }, { provider: 'host-two', urls: [c] }], ['a'.repeat(64), 'a'.repeat(64), 'XYZ']));
    expect(checks).toMatchObject({ duplicateUrls: [a, b, c], duplicateEvidence: ['a'.repeat(64)], malformedEvidence: ['XYZ'], passed: false });
  });
});
