// The workflows' activity deadlines against one another: an activity that waits for something must outwait it.
import { describe, expect, it } from 'vitest';
import { durationMs } from '../../domain/rules/duration';
import { ARCHIVE_DEADLINE, NOTICE_DEADLINE } from '../../workflows/activities';

describe('activity deadlines', () => {
  it("lets the history archive outwait a closed case's run, which stays open while its last notices are retried", () => {
    // closeCase waits for the withdrawal notices it still delivers (each retried up to NOTICE_DEADLINE) before the run
    // ends; the archive, started at the close, retries until the run has ended.
    expect(durationMs(ARCHIVE_DEADLINE)).toBeGreaterThan(durationMs(NOTICE_DEADLINE) + 12 * 3_600_000);
  });
});
