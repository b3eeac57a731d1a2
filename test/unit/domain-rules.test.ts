// The pure domain rules and schemas the API, workflows and activities share.
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../domain/rules/duration';
import { conflictKeys, partnerRequests, urlHost, DEFAULT_SLAS } from '../../domain/rules/plan';
import { checkCompletion, completionDataInUtc, fourEyesViolation, validateOutcome } from '../../domain/rules/tasks';
import { CaseInputSchema, PartnerPutSchema, webhookSecretBytes } from '../../domain/schemas';
import type { Actor, Task } from '../../domain/types';
import { sampleCase } from '../support/fixtures';

const actor = (id: string, roles: Actor['roles'], org = 'ceop'): Actor => ({ id, org, roles });
const DONE_RANGE = 'must lie from 2000-01-01T00:00:00Z to 15 minutes from now: when it was done, not when it will be';

describe('durations', () => {
  it('parses the contract forms and refuses the rest', () => {
    expect(parseDuration('72h')).toBe(72 * 3_600_000);
    expect(parseDuration('10d')).toBe(864_000_000);
    expect(parseDuration('3s')).toBe(3_000);
    expect(parseDuration('500ms')).toBe(500);
    for (const bad of ['', '0s', '-1h', '1y', 'h', '1 h', '400d', '1e3s']) expect(parseDuration(bad), bad).toBeNull();
  });
});

describe('outcomes', () => {
  it('requires the data each outcome names and a comment for rejections', () => {
    expect(validateOutcome('confirm_termination', { outcome: 'terminated', data: {} })).toEqual({ 'data.terminatedAt': 'is required' });
    expect(validateOutcome('confirm_termination', { outcome: 'terminated', data: { terminatedAt: '2026-11-25T10:00:00Z' } })).toEqual({});
    expect(validateOutcome('confirm_freeze', { outcome: 'frozen', data: { amount: -1, currency: 'eur' } })).toEqual({
      'data.amount': 'must be a non-negative number',
      'data.currency': 'must be an ISO 4217 code such as EUR',
    });
    // A JSON number past 2^53 - 1 has lost digits when parsed: refused, and the decimal string keeps them.
    const big = { outcome: 'frozen', data: { amount: 12345678901234567890, currency: 'EUR' } };
    expect(validateOutcome('confirm_freeze', big)).toEqual({ 'data.amount': expect.stringContaining('send it as a decimal string') });
    expect(validateOutcome('confirm_freeze', { outcome: 'frozen', data: { amount: Number.MAX_SAFE_INTEGER, currency: 'EUR' } })).toEqual({});
    expect(validateOutcome('confirm_freeze', { outcome: 'frozen', data: { amount: '12345678901234567890.00', currency: 'EUR' } })).toEqual({});
    expect(validateOutcome('le_signoff', { outcome: 'rejected', comment: '  ' })).toHaveProperty('comment');
    expect(validateOutcome('le_signoff', { outcome: 'approved', data: { actionDate: 'tomorrow' } })).toHaveProperty('data.actionDate');
    expect(validateOutcome('resolve_exception', { outcome: 'toString' })).toHaveProperty('outcome');
  });

  it('refuses a termination or removal reported for a time to come, beyond a quarter of an hour of clock skew', () => {
    const now = Date.parse('2026-11-26T12:00:00Z');
    const at = (iso: string) => ({ terminatedAt: iso });
    expect(validateOutcome('confirm_termination', { outcome: 'terminated', data: at('2026-11-26T12:14:00Z') }, now)).toEqual({});
    expect(validateOutcome('confirm_termination', { outcome: 'terminated', data: at('2027-01-01T09:00:00Z') }, now)).toEqual({ 'data.terminatedAt': DONE_RANGE });
    expect(validateOutcome('confirm_removal', { outcome: 'removed', data: { removedAt: '2026-11-26T13:30:00+01:00' } }, now)).toEqual({ 'data.removedAt': DONE_RANGE });
    // Done before the notice came is possible (a host that acted on an earlier report): taken.
    expect(validateOutcome('confirm_removal', { outcome: 'removed', data: { removedAt: '2020-01-01T00:00:00Z' } }, now)).toEqual({});
  });

  it('takes done times from 2000-01-01T00:00:00Z only, judged on the instant in UTC, with the same message as a future one', () => {
    const now = Date.parse('2026-11-26T12:00:00Z');
    // As the API sends them to the rules: converted to UTC first (completionDataInUtc), and as given (the workflow's validator gets the converted form).
    const terminated = (terminatedAt: string) => [
      validateOutcome('confirm_termination', { outcome: 'terminated', data: { terminatedAt } }, now),
      validateOutcome('confirm_termination', { outcome: 'terminated', data: completionDataInUtc({ terminatedAt }) }, now),
    ];
    for (const early of ['0000-01-01T00:30:00Z', '0000-01-01T00:30:00+01:00', '0001-01-01T00:00:00Z', '1999-12-31T23:59:59.999Z', '2000-01-01T00:30:00+01:00', '9999-12-31T23:30:00-01:00']) {
      expect(terminated(early), early).toEqual([{ 'data.terminatedAt': DONE_RANGE }, { 'data.terminatedAt': DONE_RANGE }]);
    }
    for (const ok of ['2000-01-01T00:00:00Z', '2000-01-01T00:30:00-01:00', '1999-12-31T23:30:00-01:00', '2026-11-26T12:15:00Z']) {
      expect(terminated(ok), ok).toEqual([{}, {}]);
    }
    expect(validateOutcome('confirm_removal', { outcome: 'removed', data: completionDataInUtc({ removedAt: '0000-01-01T00:30:00+01:00' }) }, now)).toEqual({ 'data.removedAt': DONE_RANGE });
    // Not a date-time at all is still named as such.
    expect(terminated('0000-13-01T00:00:00Z')).toEqual([{ 'data.terminatedAt': 'must be an RFC 3339 date-time' }, { 'data.terminatedAt': 'must be an RFC 3339 date-time' }]);
    // Other completion times (actionDate) must lie in years 0001-9999 UTC, whatever the offset, and say so.
    for (const actionDate of ['0000-01-01T00:30:00+01:00', '0000-06-01T00:00:00Z', '0001-01-01T00:30:00+01:00']) {
      expect(validateOutcome('le_signoff', { outcome: 'approved', data: completionDataInUtc({ actionDate }) }, now), actionDate).toEqual({
        'data.actionDate': 'must be an RFC 3339 date-time in years 0001-9999 (UTC)',
      });
    }
  });

  it('applies the four-eyes rules', () => {
    const facts = { createdBy: 'p_lead', verifiedBy: 'p_analyst' };
    expect(fourEyesViolation(actor('p_lead', ['analyst']), 'verify_evidence', facts)).toMatch(/created the case/);
    expect(fourEyesViolation(actor('p_analyst', ['le_officer']), 'le_signoff', facts)).toMatch(/verified/);
    expect(fourEyesViolation(actor('p_officer', ['le_officer']), 'le_signoff', facts)).toBeNull();
    expect(fourEyesViolation(actor('p_lead', ['case_lead']), 'resolve_exception', facts)).toBeNull();
  });

  it('ranks violations as the contract does: unknown, forbidden, no longer open, then invalid', () => {
    const task = { id: 't1', type: 'le_signoff', status: 'open', assignee: { org: 'ceop', role: 'le_officer' }, roles: ['le_officer'] } as Task;
    const facts = { createdBy: 'p_lead', verifiedBy: null };
    const c = { taskId: 't1', outcome: 'approved' };
    expect(checkCompletion(undefined, actor('x', ['le_officer']), c, facts)?.kind).toBe('not_found');
    expect(checkCompletion(task, actor('x', ['le_officer'], 'nca'), c, facts)?.kind).toBe('forbidden');
    expect(checkCompletion({ ...task, status: 'completed' }, actor('x', ['le_officer']), c, facts)?.kind).toBe('not_open');
    expect(checkCompletion(task, actor('x', ['le_officer']), { ...c, outcome: 'maybe' }, facts)?.kind).toBe('invalid');
    expect(checkCompletion(task, actor('x', ['le_officer']), c, facts)).toBeNull();
    expect(checkCompletion(task, actor('x', ['le_supervisor']), c, facts)?.kind).toBe('forbidden');
    expect(checkCompletion({ ...task, roles: ['le_officer', 'le_supervisor'] }, actor('x', ['le_supervisor']), c, facts)).toBeNull();
  });
});

describe('the step plan', () => {
  it('sends termination per channel, freeze per distinct acquirer or wallet, hosting per provider', () => {
    const input = sampleCase({}, 'plan');
    input.merchant.paymentChannels.push({ kind: 'card', scheme: 'mastercard', acquirer: 'acq-northbank', merchantId: 'Mplan' });
    input.merchant.hosting.push({ provider: 'host-example', urls: ['https://cdn.example.test/x'] });
    const reqs = partnerRequests(input).map((r) => `${r.step}:${r.org}`);
    expect(reqs).toEqual(['termination:visa', 'termination:paypal', 'termination:mastercard', 'freeze:acq-northbank', 'freeze:paypal', 'hosting:host-example']);
    const hosting = partnerRequests(input).find((r) => r.step === 'hosting');
    expect(hosting?.scope.urls).toEqual(['https://shop-plan.example.test/a', 'https://cdn.example.test/x']);
    expect(partnerRequests({ ...input, plan: { ...input.plan, freezeAssets: false } }).some((r) => r.step === 'freeze')).toBe(false);
  });

  it('derives the keys deconfliction matches on', () => {
    expect(urlHost('https://User@Shop.Example.TEST:8443/a?b')).toBe('shop.example.test');
    expect(urlHost('not a url')).toBeNull();
    const keys = conflictKeys(sampleCase({}, 'keys').merchant);
    expect(keys).toEqual({ merchantIds: ['Mkeys'], walletIds: ['PP-keys'], hosts: ['shop-keys.example.test'] });
  });

  it('gives one host one deconfliction key however a URL the schema takes writes it', () => {
    const hostKey = (u: string) => {
      const input = sampleCase({}, 'idn');
      input.merchant.urls = [u];
      input.merchant.hosting = [];
      return conflictKeys(input.merchant).hosts;
    };
    // Both URLs pass the case schema and name the same host (URL parsing, and so every HTTP client, reads them alike).
    for (const [a, b] of [
      ['https://bücher.example/shop', 'https://xn--bcher-kva.example/shop'],
      ['https://shop%2Eexample.test/a', 'https://shop.example.test/a'],
    ]) {
      expect(CaseInputSchema.safeParse({ ...sampleCase({}, 'idn'), merchant: { ...sampleCase({}, 'idn').merchant, urls: [a] } }).success, a).toBe(true);
      expect(new URL(a).hostname).toBe(new URL(b).hostname);
      expect(hostKey(a), a).toEqual(hostKey(b));
    }
  });

  it('keys a URL by the host it is contacted at, not by text after a backslash', () => {
    // WHATWG URL parsing (fetch, the URL checks) reads "\" as "/" in http(s) URLs: this URL is on evil.test.
    const u = 'https://evil.test\\@shop.example.test/';
    expect(CaseInputSchema.safeParse({ ...sampleCase({}, 'bs'), merchant: { ...sampleCase({}, 'bs').merchant, urls: [u] } }).success).toBe(true);
    expect(new URL(u).hostname).toBe('evil.test');
    expect(urlHost(u)).toBe('evil.test');
  });
});

describe('schemas', () => {
  it('fills the plan defaults and refuses unknown fields and bad hashes', () => {
    const { plan: _plan, ...withoutPlan } = sampleCase();
    const parsed = CaseInputSchema.parse(withoutPlan);
    expect(parsed.plan).toEqual({ freezeAssets: true, slas: DEFAULT_SLAS });
    expect(CaseInputSchema.safeParse({ ...withoutPlan, extra: 1 }).success).toBe(false);
    const badHash = { ...withoutPlan, evidence: [{ kind: 'test_transaction', sha256: 'ABC' }] };
    expect(CaseInputSchema.safeParse(badHash).success).toBe(false);
    const noTargets = { ...withoutPlan, merchant: { ...withoutPlan.merchant, paymentChannels: [], hosting: [] } };
    expect(CaseInputSchema.safeParse(noTargets).success).toBe(false);
  });

  it('accepts only whsec_ secrets of 24 to 64 random bytes, with a webhook URL', () => {
    const secret = (n: number) => `whsec_${Buffer.alloc(n, 7).toString('base64')}`;
    expect(webhookSecretBytes(secret(24))).toBe(24);
    expect(PartnerPutSchema.safeParse({ kind: 'acquirer', webhookUrl: 'https://a.example.test/h', secret: secret(32) }).success).toBe(true);
    expect(PartnerPutSchema.safeParse({ kind: 'acquirer', webhookUrl: 'https://a.example.test/h', secret: secret(16) }).success).toBe(false);
    expect(PartnerPutSchema.safeParse({ kind: 'acquirer', webhookUrl: 'https://a.example.test/h', secret: secret(65) }).success).toBe(false);
    expect(PartnerPutSchema.safeParse({ kind: 'acquirer', webhookUrl: 'https://a.example.test/h', secret: 'whsec_!!!' }).success).toBe(false);
    expect(PartnerPutSchema.safeParse({ kind: 'acquirer', secret: secret(32) }).success).toBe(false);
    expect(PartnerPutSchema.safeParse({ kind: 'acquirer' }).success).toBe(true);
  });
});
