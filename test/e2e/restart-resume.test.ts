// `npm start` twice on the same data dir: the second start resumes every open case where the first one left it.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../scripts/config';
import { TakedownClient } from '../../scripts/lib/api-client';
import { startSystem, type RunningSystem } from '../../scripts/lib/system';
import { quietRuntime } from '../support/stack';
import { sampleCase } from '../support/fixtures';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'takedown-resume-'));
let running: RunningSystem | undefined;

afterAll(async () => {
  await running?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function boot() {
  const config = loadConfig({
    TAKEDOWN_DATA_DIR: dataDir,
    PORT: '0',
    TEMPORAL_CLI_PATH: inject('temporalCliPath'),
    TAKEDOWN_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    TAKEDOWN_ADMIN_TOKEN: 'resume-test-admin-token-0123456789',
  });
  return startSystem(config, pino({ level: 'silent' }));
}

it('resumes open cases after a full stop and start on the same data dir', async () => {
  quietRuntime();
  running = await boot();
  let admin = new TakedownClient({ baseUrl: running.apiUrl, token: running.admin.token });
  const make = async (name: string, roles: ('case_lead' | 'analyst' | 'le_officer')[]) => (await admin.createPrincipal({ name, org: 'ceop', roles })).token;
  const [lead, analyst, officer] = [await make('lead', ['case_lead']), await make('analyst', ['analyst']), await make('officer', ['le_officer'])];
  const as = (token: string, base: string) => new TakedownClient({ baseUrl: base, token });

  const created = await as(lead, running.apiUrl).createCase(sampleCase() as never);
  const openTask = async (token: string) => {
    for (let i = 0; i < 100; i++) {
      const t = (await as(token, running!.apiUrl).listTasks({ status: 'open', caseId: created.id })).items[0];
      if (t) return t;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no open task');
  };
  const verify = await openTask(analyst);
  await as(analyst, running.apiUrl).completeTask(verify.id, { outcome: 'verified' });
  const signoff = await openTask(officer);
  expect(signoff.type).toBe('le_signoff');

  await running.stop();
  running = undefined;
  running = await boot();
  admin = new TakedownClient({ baseUrl: running.apiUrl, token: running.admin.token });
  expect((await admin.health()).ok).toBe(true);

  // Principals, the case and its open task all survived; completing the task moves the workflow on.
  expect((await as(lead, running.apiUrl).getCase(created.id)).status).toBe('awaiting_signoff');
  await as(officer, running.apiUrl).completeTask(signoff.id, { outcome: 'approved' });
  let status = '';
  for (let i = 0; i < 100 && status !== 'disrupting'; i++) {
    status = (await as(lead, running.apiUrl).getCase(created.id)).status;
    if (status !== 'disrupting') await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toBe('disrupting');
  await as(lead, running.apiUrl).withdrawCase(created.id, 'test over');
  for (let i = 0; i < 100 && status !== 'withdrawn'; i++) {
    status = (await as(lead, running.apiUrl).getCase(created.id)).status;
    if (status !== 'withdrawn') await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toBe('withdrawn');
}, 120_000);
