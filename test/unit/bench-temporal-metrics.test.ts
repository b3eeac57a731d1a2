import { describe, expect, it } from 'vitest';
import { addDelta, parseCounters, perCaseRows } from '../../bench/lib/temporal-metrics';

// Lines as the Temporal dev server's Prometheus endpoint writes them (labels abridged).
const before = `# HELP service_requests service_requests counter
# TYPE service_requests counter
service_requests{namespace="default",operation="RespondWorkflowTaskCompleted",service_name="frontend"} 10
service_requests{namespace="default",operation="RespondWorkflowTaskCompleted",service_name="history"} 10
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 30
persistence_requests{namespace="_unknown_",operation="UpdateWorkflowExecution",service_name="worker"} 2
persistence_latency_bucket{namespace="default",operation="UpdateWorkflowExecution",le="0.001"} 5
visibility_persistence_requests{operation="UpsertWorkflowExecution",service_name="history"} 1
`;

describe('Temporal dev server counters', () => {
  it('keeps the frontend requests and the store operations, summed over namespaces and services', () => {
    const c = parseCounters(before);
    expect(Object.fromEntries(c)).toEqual({
      'frontend request RespondWorkflowTaskCompleted': 10,
      'persistence UpdateWorkflowExecution': 32,
      'visibility store UpsertWorkflowExecution': 1,
    });
  });

  it('accumulates deltas per side and reports them per case, the largest differences first, with totals', () => {
    const after = (n: number) => parseCounters(before.replace('RespondWorkflowTaskCompleted",service_name="frontend"} 10', `RespondWorkflowTaskCompleted",service_name="frontend"} ${10 + n}`).replace('service_name="history"} 30', `service_name="history"} ${30 + 3 * n}`));
    const takedown = new Map<string, number>();
    const floor = new Map<string, number>();
    addDelta(takedown, parseCounters(before), after(20));
    addDelta(floor, parseCounters(before), after(10));
    // A counter seen only after the window opened counts from zero.
    addDelta(takedown, new Map(), new Map([['frontend request DescribeWorkflowExecution', 4]]));
    const rows = perCaseRows(takedown, 2, floor, 2);
    expect(rows).toEqual([
      { kind: 'frontend request', operation: 'RespondWorkflowTaskCompleted', takedown: 10, floor: 5 },
      { kind: 'frontend request', operation: 'DescribeWorkflowExecution', takedown: 2, floor: 0 },
      { kind: 'frontend request', operation: 'all', takedown: 12, floor: 5 },
      { kind: 'persistence', operation: 'UpdateWorkflowExecution', takedown: 30, floor: 15 },
      { kind: 'persistence', operation: 'all', takedown: 30, floor: 15 },
      { kind: 'visibility store', operation: 'all', takedown: 0, floor: 0 },
    ]);
  });
});
