// The benchmark's own logic: the floor shape counted from a recorded case history, percentiles, and the SVG charts.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../bench/lib/history';
import { countsOf, shapeFrom, shapeTotals } from '../../bench/lib/shape';
import { median, percentile, summarize, table, targetGap } from '../../bench/lib/stats';
import { cdfSvg, histogramSvg } from '../../bench/lib/svg';
import { HISTORIES_DIR, historySets } from '../support/histories';

/** The newest recorded history of a case that ran to completion (the one the overhead benchmark copies). */
function latestCompletedHistory(): { file: string; json: string } {
  const dirs = historySets().filter((d) => existsSync(path.join(HISTORIES_DIR, d, 'completed.json')));
  const file = path.join(HISTORIES_DIR, dirs[dirs.length - 1], 'completed.json');
  return { file, json: readFileSync(file, 'utf8') };
}

describe('floor shape from a real case history', () => {
  it('has the same number of local activities, activities, updates and timers as the case', () => {
    const { file, json } = latestCompletedHistory();
    const h = parseHistory(json, file);
    const counts = countsOf(h);
    expect(counts.updates).toBeGreaterThan(3);
    const shape = shapeFrom(h, 2);
    const totals = shapeTotals(shape);
    expect(totals).toEqual({
      activities: counts.activities,
      localActivities: counts.localActivities,
      updates: counts.updates,
      timers: counts.timers,
      children: counts.children,
    });
    // Two people's steps, then one parallel branch per partner completion, each with an activity to announce it.
    expect(shape.sequential).toHaveLength(2);
    expect(shape.parallel).toHaveLength(counts.updates - 3);
    // One handler per completion: an activity where the case records the task, none where the waiting flow carries it.
    expect(shape.handlers).toHaveLength(counts.updates - 1);
    expect(shape.handlers.every((x) => x === '' || x === 'L')).toBe(true);
    for (const w of [...shape.sequential, ...shape.parallel]) expect(w.acts.length).toBeGreaterThan(0);
  });

  it('reads activity, update and workflow task events with their times', () => {
    const { file, json } = latestCompletedHistory();
    const h = parseHistory(json, file);
    expect(h.closedAt).not.toBeNull();
    expect(h.closedAt! - h.startedAt).toBeGreaterThan(0);
    const intake = h.updates.find((u) => u.name === 'intake');
    expect(intake).toBeDefined();
    expect(intake!.completedAt).not.toBeNull();
    const completions = h.updates.filter((u) => u.name === 'completeTask');
    expect(completions.every((u) => typeof (u.args as { completion?: { taskId?: string } }).completion?.taskId === 'string')).toBe(true);
    for (const w of h.workflowTasks) expect(w.completedAt ?? Infinity).toBeGreaterThanOrEqual(w.scheduledAt);
    const regular = h.activities.filter((a) => !a.local);
    expect(regular.every((a) => a.closedAt !== null && a.closedAt >= a.scheduledAt)).toBe(true);
  });
});

describe('bench statistics and charts', () => {
  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(summarize([3, 1, 2])).toMatchObject({ n: 3, min: 1, p50: 2, max: 3, mean: 2 });
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
  });

  it('takes the median of an even count as the mean of the two middle values (four block ratios)', () => {
    expect(median([0.74, 0.56, 0.72, 0.58])).toBeCloseTo(0.65, 10);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([5])).toBe(5);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  it('renders markdown tables with text columns left-aligned and numbers right-aligned', () => {
    const t = table(['what', 'statement', 'ms'], [['a', '`SELECT 1`', '1.0 ms']]);
    expect(t.split('\n')[1]).toBe('| --- | --- | ---: |');
  });

  it('draws CDFs and histograms with axes, labels and one curve per series', () => {
    const series = [
      { label: 'fast <one>', values: [1, 2, 3, 4, 5] },
      { label: 'slow', values: [10, 20, 30] },
    ];
    const cdf = cdfSvg({ title: 'latency', xLabel: 'ms', series, logX: true });
    expect(cdf.startsWith('<svg')).toBe(true);
    expect(cdf.match(/<polyline/g)).toHaveLength(2);
    expect(cdf).toContain('fast &lt;one&gt;');
    expect(cdf).toContain('ms (log scale)');
    expect(cdf).not.toMatch(/NaN|Infinity/);
    const hist = histogramSvg({ title: 'latency', xLabel: 'ms', series, bins: 10 });
    expect(hist.match(/<polygon/g)).toHaveLength(2);
    expect(hist).not.toMatch(/NaN|Infinity/);
  });
});

describe('the throughput target in CPU per case', () => {
  it('says how much of the takedown\'s own work the targets need gone, or that they are met', () => {
    const gap = targetGap(300, 180);
    expect(gap).toContain("its CPU beyond the floor's, is 120 ms per case");
    // 180 / 0.67 = 268.7 ms allowed: 31.3 ms less, 26 % of the 120 ms.
    expect(gap).toContain('0.67, the takedown may use 269 ms per case: 31.3 ms less (26 % of its own work)');
    // 180 / 0.8 = 225 ms allowed: 75 ms less, 63 %.
    expect(gap).toContain('0.8, the takedown may use 225 ms per case: 75.0 ms less (63 % of its own work)');
    expect(targetGap(200, 180)).toContain('0.67, the takedown may use 269 ms per case: met');
  });
});
