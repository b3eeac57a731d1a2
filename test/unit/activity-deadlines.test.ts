// The workflows' activity deadlines against one another: an activity that waits for something must outwait it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_DEADLINE, NOTICE_ATTEMPT_TIMEOUT, NOTICE_DEADLINE } from '../../domain/rules/deadlines';
import { durationMs } from '../../domain/rules/duration';
import { ROOT } from '../support/paths';

describe('activity deadlines', () => {
  it("lets the history archive outwait a closed case's run, which stays open while its last notices are retried", () => {
    // closeCase waits for the withdrawal notices it still delivers (each retried up to NOTICE_DEADLINE) before the run
    // ends; the archive, started at the close, retries until the run has ended.
    expect(durationMs(ARCHIVE_DEADLINE)).toBeGreaterThan(durationMs(NOTICE_DEADLINE) + 12 * 3_600_000);
  });

  it('gives the notice activity the start-to-close timeout that TAKEDOWN_NOTICE_TIMEOUT is checked against', () => {
    // A proxy does not tell its options, so its source does: the shared constant, not a value written out again.
    const source = readFileSync(path.join(ROOT, 'workflows', 'activities.ts'), 'utf8');
    const notices = /export const notices = proxyActivities[^]*?\n\}\);/.exec(source)?.[0] ?? '';
    expect(notices).toMatch(/startToCloseTimeout: NOTICE_ATTEMPT_TIMEOUT,/);
    expect(NOTICE_ATTEMPT_TIMEOUT).toBe('60s');
    // And the deadlines compared above are the ones the notice and archive activities are given.
    expect(notices).toMatch(/scheduleToCloseTimeout: NOTICE_DEADLINE,/);
    const archive = /export const archive = proxyActivities[^]*?\n\}\);/.exec(source)?.[0] ?? '';
    expect(archive).toMatch(/scheduleToCloseTimeout: ARCHIVE_DEADLINE,/);
  });
});
