// The workflows' activity deadlines against one another: an activity that waits for something must outwait it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_DEADLINE, NOTICE_ATTEMPT_TIMEOUT, NOTICE_DEADLINE } from '../../domain/rules/deadlines';
import { durationMs } from '../../domain/rules/duration';
import { ROOT } from '../support/paths';
import { LOCAL_STORE_OPTIONS, NOTICE_OPTIONS } from '../../workflows/activities';
import { isLastAttempt } from '../../activities/notices';

describe('activity deadlines', () => {
  it("lets the history archive outwait a closed case's run, which stays open while its last notices are retried", () => {
    // closeCase waits for the withdrawal notices it still delivers before the run ends: each is prepared, then sent, by
    // two notice activities one after the other, each retried up to NOTICE_DEADLINE; the archive, started at the close,
    // retries until the run has ended.
    expect(durationMs(ARCHIVE_DEADLINE)).toBeGreaterThan(2 * durationMs(NOTICE_DEADLINE) + 12 * 3_600_000);
  });

  it('gives the notice activity the start-to-close timeout that TAKEDOWN_NOTICE_TIMEOUT is checked against', () => {
    // A proxy does not tell its options, so its source does: the shared constant, not a value written out again.
    const source = readFileSync(path.join(ROOT, 'workflows', 'activities.ts'), 'utf8');
    expect(source).toMatch(/export const notices = proxyActivities<TakedownActivities>\(NOTICE_OPTIONS\);/);
    expect(NOTICE_OPTIONS.startToCloseTimeout).toBe(NOTICE_ATTEMPT_TIMEOUT);
    expect(NOTICE_ATTEMPT_TIMEOUT).toBe('60s');
    // And the deadlines compared above are the ones the notice and archive activities are given.
    expect(NOTICE_OPTIONS.scheduleToCloseTimeout).toBe(NOTICE_DEADLINE);
    const archive = /export const archive = proxyActivities[^]*?\n\}\);/.exec(source)?.[0] ?? '';
    expect(archive).toMatch(/scheduleToCloseTimeout: ARCHIVE_DEADLINE,/);
  });

  it("lets a case outlive four weeks of PostgreSQL outage: its projection writes' timer-backed retries stay within Temporal's history limit", () => {
    // A local activity whose next backoff passes localRetryThreshold waits on a durable timer: about 5 events a retry
    // (timer started, fired, workflow task scheduled, started, completed). Retries never end while the database is down.
    const { retry, localRetryThreshold } = LOCAL_STORE_OPTIONS;
    let backoff = durationMs(retry.initialInterval);
    let elapsed = 0;
    let events = 0;
    while (elapsed < 28 * 86_400_000) {
      elapsed += backoff;
      if (backoff > durationMs(localRetryThreshold)) events += 5;
      backoff = Math.min(backoff * retry.backoffCoefficient, durationMs(retry.maximumInterval));
    }
    // Temporal's default limit is 51,200 events a history; a case's own events take a few hundred.
    expect(events).toBeLessThan(51_200 - 1_000);
    // The source's proxy is built from these options, not from values written out again.
    const source = readFileSync(path.join(ROOT, 'workflows', 'activities.ts'), 'utf8');
    expect(source).toMatch(/export const localStore = proxyLocalActivities<TakedownActivities>\(LOCAL_STORE_OPTIONS\);/);
  });

  it("calls a notice's attempt the last exactly when Temporal would not retry it: at the end of its week, never later", () => {
    // Temporal retries a failed attempt when the failure's time plus the next backoff is before the schedule-to-close
    // deadline; otherwise it times the activity out. Walked attempt by attempt with the notices' own policy, each
    // attempt failing `takesMs` after it starts: the attempt Temporal would not retry must be called the last, and no
    // attempt more than one backoff (plus the margin) before it.
    const retryPolicy = NOTICE_OPTIONS.retry;
    const deadlineMs = durationMs(NOTICE_DEADLINE);
    const backoff = (attempt: number) =>
      Math.min(durationMs(retryPolicy.initialInterval) * retryPolicy.backoffCoefficient ** (attempt - 1), durationMs(retryPolicy.maximumInterval));
    for (const takesMs of [0, 1_500, 59_000]) {
      const scheduled = 1_800_000_000_000;
      const called: number[] = [];
      let attempt = 1;
      let failsAt = scheduled + takesMs;
      for (;;) {
        const info = { attempt, scheduledTimestampMs: scheduled, scheduleToCloseTimeoutMs: deadlineMs, retryPolicy };
        if (isLastAttempt(info, failsAt)) called.push(attempt);
        // Info without a policy: the notices' own is assumed, with the same answer.
        expect(isLastAttempt({ ...info, retryPolicy: undefined }, failsAt)).toBe(isLastAttempt(info, failsAt));
        if (failsAt + backoff(attempt) >= scheduled + deadlineMs) break; // Temporal's last
        failsAt += backoff(attempt) + takesMs;
        attempt += 1;
      }
      expect(called.at(-1)).toBe(attempt);
      // Near the end the backoff is 10 minutes: the margin (a minute) makes at most the attempt before it "last" too.
      expect(called.length).toBeLessThanOrEqual(2);
      expect(attempt).toBeGreaterThan(900); // about a week of attempts ten minutes apart
    }
    // A policy with a maximum of attempts: its last is the last.
    const capped = { attempt: 3, scheduledTimestampMs: 0, scheduleToCloseTimeoutMs: 0, retryPolicy: { maximumAttempts: 3 } };
    expect(isLastAttempt(capped, 1)).toBe(true);
    expect(isLastAttempt({ ...capped, attempt: 2 }, 1)).toBe(false);
  });
});
