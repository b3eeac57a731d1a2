// Every history recorded from real runs (test/histories, see RECORD_HISTORIES in test/support/stack.ts) replays against the
// current workflow code; a deliberately broken canary must fail on every one of them.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { HISTORIES_DIR, historySets } from '../support/histories';
import { quietRuntime } from '../support/stack';

// One folder per recorded set (test/histories/<set>/<path>.json): sets recorded before a patched() change stay forever.
const sets = historySets();
const files = sets.flatMap((set) => readdirSync(path.join(HISTORIES_DIR, set)).filter((f) => f.endsWith('.json')).map((f) => `${set}/${f}`)).sort();
const latest = sets[sets.length - 1];

function load(file: string) {
  return historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
}

describe('replay of recorded histories', () => {
  it('has histories of every path in the latest set', () => {
    for (const name of ['completed', 'closed-unverified', 'closed-rejected', 'deconfliction-abort', 'declined-freeze', 'notice-5xx-4xx-retry-skip', 'exception-abort', 'withdrawn-at-verification', 'withdrawn-at-signoff', 'withdrawn-at-disruption', 'amendment', 'partner-reminder-escalation-exception', 'signoff-escalation', 'action-day', 'worker-restart', 'partner-closure', 'skip-last-request', 'skip-notice-then-withdrawal', 'refused-request-retry', 'abort-stops-siblings', 'abort-with-sibling-exception', 'completed-during-close', 'still-up-retry', 'no-response-retry-supersedes', 'withdrawn-partner-down']) {
      expect(files).toContain(`${latest}/${name}.json`);
    }
  });

  it.each(files)('%s replays against the current workflow code', async (file) => {
    quietRuntime();
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, load(file), `replay-${file}`);
  });

  it('a non-deterministic change fails replay on every history', async () => {
    quietRuntime();
    const { code } = await bundleWorkflowCode({ workflowsPath: path.resolve(HISTORIES_DIR, '../replay/canary-workflows.ts'), logger: new DefaultLogger('WARN') });
    // One replay worker for every history (runReplayHistories), not one per history: a worker per history took most of a minute.
    const histories = files.map((file) => ({ workflowId: `canary-${file}`, history: load(file) }));
    const results = new Map<string, string>();
    for await (const r of Worker.runReplayHistories({ workflowBundle: { code } }, histories)) results.set(r.workflowId, r.error?.name ?? 'replayed');
    expect([...results.keys()].sort()).toEqual(histories.map((h) => h.workflowId).sort());
    const wrong = [...results].filter(([, name]) => !/Determinism|Replay/i.test(name));
    expect(wrong).toEqual([]);
  });
});
