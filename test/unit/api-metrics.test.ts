// The shared Prometheus registry: coalition histograms and the notice counter render in the text format.
import { describe, expect, it } from 'vitest';
import { bindMetricsPool, countNoticeAttempt, MAX_NOTICE_ORG_LABELS, observeOutcome, registry, renderMetrics } from '../../telemetry/metrics';

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
  it('keeps the notice counter to a bounded number of org series: orgs come from case input, and a series is never dropped', async () => {
    countNoticeAttempt('retry', 'early');
    for (let i = 0; i < MAX_NOTICE_ORG_LABELS + 50; i++) countNoticeAttempt('delivered', `org-${i}`);
    countNoticeAttempt('retry', 'early');
    countNoticeAttempt('retry', 'late');
    const values = (await registry.getSingleMetric('takedown_notice_attempts_total')!.get()).values;
    const orgs = new Set(values.map((v) => v.labels.org));
    expect(orgs.size).toBe(MAX_NOTICE_ORG_LABELS + 1);
    expect(orgs.has('other')).toBe(true);
    // An org seen before the bound keeps its own series.
    expect(values.find((v) => v.labels.org === 'early' && v.labels.outcome === 'retry')?.value).toBe(2);
    expect(orgs.has('late')).toBe(false);
    expect(values.find((v) => v.labels.org === 'other' && v.labels.outcome === 'retry')?.value).toBe(1);
  });
  it('leaves the PostgreSQL gauges out of a scrape whose queries fail, instead of repeating the last values as current', async () => {
    const rowsFor = (text: string) =>
      text.includes('FROM cases c')
        ? [{ n: '4' }]
        : text.includes('FROM tasks')
          ? [{ type: 'scheme_termination', org: 'visa', n: '7' }]
          : text.includes('FROM notices')
            ? [{ org: 'visa', state: 'retrying', n: '3' }]
            : [{ status: 'open', n: '5' }];
    const up = { totalCount: 1, idleCount: 1, waitingCount: 0, query: async (q: { text: string }) => ({ rows: rowsFor(q.text) }) };
    const down = {
      totalCount: 0,
      idleCount: 0,
      waitingCount: 0,
      query: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
    };
    try {
      const before = (await renderMetrics(up as never)).body;
      expect(before).toContain('takedown_open_tasks{type="scheme_termination",org="visa"} 7');
      expect(before).toContain('takedown_overdue_tasks{type="scheme_termination",org="visa"} 7');
      expect(before).toContain('takedown_cases{status="open"} 5');
      expect(before).toContain('takedown_notices_in_flight{org="visa",state="retrying"} 3');
      expect(before).toContain('takedown_closed_cases_without_archive 4');
      expect(before).toContain('takedown_db_scrape_failed 0');
      // PostgreSQL goes down: telemetry/metrics.ts says "the gauges are simply absent this time". An alert on overdue tasks
      // or unarchived histories must not keep seeing the numbers of the last scrape that worked.
      const during = (await renderMetrics(down as never)).body;
      expect.soft(during).not.toContain('takedown_open_tasks{type="scheme_termination",org="visa"} 7');
      expect.soft(during).not.toContain('takedown_overdue_tasks{type="scheme_termination",org="visa"} 7');
      expect.soft(during).not.toContain('takedown_cases{status="open"} 5');
      expect.soft(during).not.toContain('takedown_closed_cases_without_archive 4');
      // Absent, not 0 (which would read as none), and said so.
      expect.soft(during).not.toMatch(/^takedown_closed_cases_without_archive /m);
      expect.soft(during).toContain('takedown_db_scrape_failed 1');
    } finally {
      bindMetricsPool(undefined);
    }
  });
});
