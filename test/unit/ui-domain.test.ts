// The web console is plain ES modules with no build step, so it carries copies of a few domain lists; they must stay equal.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SLAS } from '../../domain/rules/plan';
import { CASE_STATUSES, OPEN_CASE_STATUSES, STEP_NAMES } from '../../domain/types';

interface UiFormat {
  STEP_NAMES: string[];
  CASE_STATUSES: string[];
  OPEN_STATUSES: string[];
  SLA_DEFAULTS: Record<string, string>;
  STEP_SLA: Record<string, string>;
}

const formatModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui/js/format.js');

describe('the console’s copies of domain lists', () => {
  it('equal the domain module’s step names, case statuses, open statuses and default SLAs', async () => {
    const ui = (await import(formatModule)) as UiFormat;
    expect(ui.STEP_NAMES).toEqual([...STEP_NAMES]);
    expect(ui.CASE_STATUSES).toEqual([...CASE_STATUSES]);
    expect(ui.OPEN_STATUSES).toEqual([...OPEN_CASE_STATUSES]);
    expect(ui.SLA_DEFAULTS).toEqual(DEFAULT_SLAS);
    // Each step is bounded by one of the plan's SLAs.
    expect(Object.keys(ui.STEP_SLA)).toEqual([...STEP_NAMES]);
    for (const sla of Object.values(ui.STEP_SLA)) expect(Object.keys(DEFAULT_SLAS)).toContain(sla);
  });
});
