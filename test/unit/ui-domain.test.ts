// The web console is plain ES modules with no build step, so it carries copies of a few domain lists; they must stay equal.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SLAS, partnerRequests } from '../../domain/rules/plan';
import { CASE_STATUSES, OPEN_CASE_STATUSES, PARTNER_TASK_TYPES, STEP_NAMES } from '../../domain/types';

interface UiFormat {
  STEP_NAMES: string[];
  CASE_STATUSES: string[];
  OPEN_STATUSES: string[];
  SLA_DEFAULTS: Record<string, string>;
  STEP_SLA: Record<string, string>;
}

const formatModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui/js/format.js');
const outcomesModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui/js/outcomes.js');
const newCaseModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui/js/views/new-case.js');

interface UiNewCase {
  partnerOrgsNamed(body: unknown): string[];
  unreachableQuestion(named: string[], directory: { org: string; receivesNotices: boolean; signsIn: boolean }[]): string | null;
}

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
    // The partner tasks whose cards show their formal request.
    const outcomes = (await import(outcomesModule)) as { PARTNER_TASK_TYPES: string[] };
    expect(outcomes.PARTNER_TASK_TYPES).toEqual([...PARTNER_TASK_TYPES]);
  });
});

describe('the new-case form’s question about partners no notice can reach', () => {
  const body = (freezeAssets: boolean) => ({
    merchant: {
      paymentChannels: [
        { kind: 'card', scheme: 'visa', acquirer: 'acq-northbank', merchantId: 'M1' },
        { kind: 'card', scheme: 'visa', acquirer: 'acq-south', merchantId: 'M2' },
        { kind: 'wallet', provider: 'paypal', accountId: 'P1' },
      ],
      hosting: [{ provider: 'host-example', urls: ['https://a.example.test/'] }],
      urls: [],
    },
    plan: { freezeAssets, slas: {} },
  });

  it('names the orgs the domain sends requests to, with and without a freeze', async () => {
    const ui = (await import(newCaseModule)) as UiNewCase;
    for (const freeze of [true, false]) {
      const b = body(freeze);
      const domain = [...new Set(partnerRequests(b as unknown as Parameters<typeof partnerRequests>[0]).map((r) => r.org))].sort();
      expect(ui.partnerOrgsNamed(b).sort(), `freezeAssets ${freeze}`).toEqual(domain);
    }
  });

  it('asks only when an org is unknown, or has neither a webhook nor anyone signing in, naming them', async () => {
    const ui = (await import(newCaseModule)) as UiNewCase;
    const directory = [
      { org: 'visa', receivesNotices: true, signsIn: false },
      { org: 'paypal', receivesNotices: true, signsIn: true },
      { org: 'host-console', receivesNotices: false, signsIn: true },
      { org: 'host-example', receivesNotices: false, signsIn: false },
    ];
    expect(ui.unreachableQuestion(['visa', 'paypal', 'host-console'], directory)).toBeNull();
    const q = ui.unreachableQuestion(['visa', 'viza', 'host-example'], directory);
    expect(q).toContain('unknown here: viza');
    expect(q).toContain('with nobody signing in: host-example');
    expect(q).not.toContain('visa,');
  });
});

const adminModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui/js/views/admin.js');

describe('the admin page’s list of changes', () => {
  it('words each change from its event: a webhook by its origin, a secret only as changed or removed', async () => {
    const { adminEventDetail } = (await import(adminModule)) as { adminEventDetail(e: unknown): string };
    const ref = (origin: string, h: string) => ({ origin, urlSha256: h.repeat(64) });
    const partner = (data: Record<string, unknown>) => adminEventDetail({ action: 'partner.updated', data });
    expect(partner({ created: true, kind: 'card_scheme', webhook: { before: null, after: ref('https://hooks.visa.example', 'a') }, secretChanged: true, hasSecret: true })).toBe(
      'registered as card scheme; webhook https://hooks.visa.example; secret changed',
    );
    expect(partner({ created: false, webhook: { before: ref('https://hooks.visa.example', 'a'), after: ref('https://attacker.example', 'b') }, secretChanged: false, hasSecret: true })).toBe(
      'webhook https://hooks.visa.example → https://attacker.example',
    );
    expect(partner({ created: false, webhook: { before: ref('https://h.example', 'a'), after: null }, secretChanged: true, hasSecret: false })).toBe('webhook https://h.example → none; secret removed');
    expect(partner({ created: false, webhook: { before: ref('https://h.example', 'a'), after: ref('https://h.example', 'a') }, secretChanged: false, hasSecret: true })).toBe('saved unchanged');
    expect(adminEventDetail({ action: 'principal.created', data: { name: 'Ann', org: 'ceop', roles: ['case_lead', 'analyst'] } })).toBe('Ann in ceop: case lead, analyst');
    expect(adminEventDetail({ action: 'principal.revoked', data: { org: 'ceop' } })).toBe('in ceop');
  });
});
