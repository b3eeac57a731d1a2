// The shared Prometheus registry: coalition histograms and the notice counter render in the text format.
import { describe, expect, it } from 'vitest';
import { countNoticeAttempt, observeOutcome, registry, renderMetrics } from '../../telemetry/metrics';

describe('metrics', () => {
  it('records outcome durations and notice attempts', async () => {
    observeOutcome('termination', 3_600);
    observeOutcome('freeze', 120);
    observeOutcome('removal', 30);
    observeOutcome('removal', Number.NaN);
    observeOutcome('removal', -5);
    countNoticeAttempt('delivered', 'visa');
    countNoticeAttempt('delivered', 'visa');
    countNoticeAttempt('retry', 'paypal');
    const { contentType, body } = await renderMetrics();
    expect(contentType).toBe(registry.contentType);
    expect(body).toMatch(/takedown_time_to_termination_seconds_bucket\{le="3600"\} 1/);
    expect(body).toMatch(/takedown_time_to_termination_seconds_count 1/);
    expect(body).toMatch(/takedown_time_to_freeze_seconds_sum 120/);
    expect(body).toMatch(/takedown_time_to_removal_seconds_count 1/);
    expect(body).toContain('takedown_notice_attempts_total{outcome="delivered",org="visa"} 2');
    expect(body).toContain('takedown_notice_attempts_total{outcome="retry",org="paypal"} 1');
    expect(body).toContain('# TYPE takedown_open_tasks gauge');
  });
});
