// The documents partners receive: content per type, completeness, evidence by reference only, hashing and escaped HTML.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildDocument, documentHash, nextBusinessDay, renderDocumentHtml } from '../../activities/documents';
import { caseViewFixture, contextFor, SECRET_DESCRIPTION } from './documents-fixture';

const get = (doc: Record<string, unknown>, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], doc);

describe('termination_request', () => {
  it('carries a MATCH-style listing for the channel in scope only', () => {
    const { document, version, missing } = buildDocument('termination_request', contextFor('termination_request', 'visa'));
    expect(missing).toEqual([]);
    expect(version).toBe('1.0');
    expect(document).toMatchObject({
      documentType: 'termination_request',
      documentVersion: '1.0',
      case: { id: 'case_fixture001', reference: 'EFC-2026-0042', jurisdiction: 'GB' },
      issuer: { org: 'ceop' },
      recipient: { org: 'visa' },
      taskId: 'task_fixture1',
      dueAt: '2026-03-12T09:00:00.000Z',
      channel: { kind: 'card', scheme: 'visa', acquirer: 'acq-northbank', merchantId: '4451200001' },
      listing: {
        acquirerId: 'acq-northbank',
        merchant: {
          legalName: 'Example Shop Ltd',
          dbaName: 'Example Shop',
          descriptor: 'EXSHOP*ONLINE',
          merchantId: '4451200001',
          mcc: '5815',
          address: '1 High Street, London',
          phone: '+44 20 7946 0000',
          taxIds: ['GB123456789'],
          dateOpened: '2024-01-15',
          urls: ['https://shop.example.test/a', 'https://shop.example.test/b'],
        },
        reasonCode: '13',
        reason: 'Illegal Transactions',
        duration: { years: 5, iso8601: 'P5Y' },
        due: { rule: 'one business day after termination', at: null },
        unavailableFields: [],
      },
    });
    expect(get(document, 'listing.principals')).toHaveLength(5);
    expect(typeof document.comments).toBe('string');
    // Other schemes' merchant ids and the wallet account are none of this recipient's business.
    const json = JSON.stringify(document);
    expect(json).not.toContain('5551200002');
    expect(json).not.toContain('PP-88812');
  });

  it('takes a wallet provider as its own acquirer and names the fields the case lacks', () => {
    const view = caseViewFixture({ merchant: { ...caseViewFixture().merchant, legalName: undefined, address: undefined, phone: undefined, taxIds: undefined, dateOpened: undefined, principals: undefined } });
    const { document, missing } = buildDocument('termination_request', contextFor('termination_request', 'paypal', {}, view));
    expect(missing).toEqual([]);
    expect(get(document, 'listing.acquirerId')).toBe('paypal');
    expect(get(document, 'listing.merchant.merchantId')).toBe('PP-88812');
    expect(get(document, 'listing.merchant.legalName')).toBe('Example Shop');
    expect(get(document, 'listing.merchant.mcc')).toBeNull();
    expect(get(document, 'listing.unavailableFields')).toEqual(['mcc', 'address', 'phone', 'taxIds', 'dateOpened', 'principals']);
  });

  it('dates the listing one business day after a known termination', () => {
    const ctx = contextFor('termination_request', 'visa', { extra: { terminatedAt: '2026-03-06T16:00:00.000Z' } }); // a Friday
    expect(get(buildDocument('termination_request', ctx).document, 'listing.due.at')).toBe('2026-03-09T16:00:00.000Z');
    expect(nextBusinessDay('2026-03-04T10:00:00.000Z')).toBe('2026-03-05T10:00:00.000Z');
    expect(nextBusinessDay('2026-03-07T10:00:00.000Z')).toBe('2026-03-09T10:00:00.000Z');
  });

  it('is incomplete without a channel, evidence or a deadline', () => {
    const view = caseViewFixture({ evidence: [] });
    const { missing } = buildDocument('termination_request', contextFor('termination_request', 'visa', { scope: {}, dueAt: null }, view));
    expect(missing).toEqual(expect.arrayContaining(['scope.channel', 'acquirerId', 'merchant.merchantId', 'evidence', 'dueAt']));
  });
});

describe('freeze_request', () => {
  it('follows the freezing certificate: authority, urgency, persons, accounts, grounds, remedies, signature', () => {
    const ctx = contextFor('freeze_request', 'acq-northbank', { extra: { amounts: { '4451200001': { amount: '1200.50', currency: 'EUR' } }, contact: { email: 'ops@ceop.example' } } });
    const { document, missing } = buildDocument('freeze_request', ctx);
    expect(missing).toEqual([]);
    expect(document).toMatchObject({
      documentType: 'freeze_request',
      issuingAuthority: { org: 'ceop', state: 'GB', contact: { email: 'ops@ceop.example' } },
      executing: { org: 'acq-northbank' },
      urgency: { urgent: true, recognitionWithin: '48h', executionWithin: '48h' },
      property: {
        accounts: [
          { kind: 'card_merchant_account', scheme: 'visa', merchantId: '4451200001', amount: '1200.50', currency: 'EUR' },
          { kind: 'card_merchant_account', scheme: 'mastercard', merchantId: '5551200002', amount: null, currency: null },
        ],
      },
      signature: { signedOffBy: 'p_officer', issuedAt: '2026-03-02T09:00:00.000Z' },
    });
    const persons = document.personsConcerned as { type: string; name: string }[];
    expect(persons[0]).toMatchObject({ type: 'legal_person', name: 'Example Shop Ltd' });
    expect(persons.filter((p) => p.type === 'natural_person')).toHaveLength(6);
    expect(String(document.legalBasis)).toContain('2018/1805');
    expect(String(document.legalRemedies)).toMatch(/challenge/);
    expect(get(document, 'grounds.summary')).toEqual(expect.stringContaining('EFC-2026-0042'));
    expect(JSON.stringify(document)).not.toContain('PP-88812');
  });

  it('is not urgent for a normal case, and covers a wallet account', () => {
    const view = caseViewFixture({ priority: 'normal' });
    const { document, missing } = buildDocument('freeze_request', contextFor('freeze_request', 'paypal', {}, view));
    expect(missing).toEqual([]);
    expect(document.urgency).toMatchObject({ urgent: false, recognitionWithin: null, requestedBy: '2026-03-12T09:00:00.000Z' });
    expect(get(document, 'property.accounts')).toEqual([{ kind: 'wallet_account', accountId: 'PP-88812', amount: null, currency: null }]);
  });

  it('is incomplete without the officer sign-off or accounts', () => {
    const view = caseViewFixture({ signedOffBy: null });
    expect(buildDocument('freeze_request', contextFor('freeze_request', 'acq-northbank', {}, view)).missing).toEqual(['signature.signedOffBy']);
    expect(buildDocument('freeze_request', contextFor('freeze_request', 'acq-northbank', { scope: { accounts: [] } })).missing).toEqual(['scope.accounts']);
  });
});

describe('hosting_notice', () => {
  it('follows an Article 9 order: basis, reasons with provisions, exact URLs, scope, redress, report-back', () => {
    const { document, missing } = buildDocument('hosting_notice', contextFor('hosting_notice', 'host-example'));
    expect(missing).toEqual([]);
    expect(document).toMatchObject({
      documentType: 'hosting_notice',
      issuingAuthority: { org: 'ceop' },
      content: { urls: ['https://shop.example.test/a', 'https://shop.example.test/b'], ips: ['203.0.113.7'] },
      reportTo: { org: 'ceop', when: 'without undue delay', requestedBy: '2026-03-12T09:00:00.000Z', how: 'POST /v1/tasks/task_fixture1/complete' },
    });
    expect((document.legalBasis as string[]).join(' ')).toContain('2022/2065');
    expect(get(document, 'statementOfReasons.provisions')).toEqual(expect.arrayContaining([expect.stringContaining('Article 5')]));
    expect(typeof document.territorialScope).toBe('string');
    expect(get(document, 'redress.provider')).toEqual(expect.any(String));
    expect(get(document, 'redress.recipientOfService')).toEqual(expect.any(String));
    // A host needs no payment data.
    const json = JSON.stringify(document);
    expect(json).not.toContain('4451200001');
    expect(json).not.toContain('PP-88812');
  });

  it('takes overrides from extra', () => {
    const ctx = contextFor('hosting_notice', 'host-example', { extra: { territorialScope: 'EU', legalBasis: ['National Act s.1'], provisions: ['s.1(2)'] } });
    const { document } = buildDocument('hosting_notice', ctx);
    expect(document.territorialScope).toBe('EU');
    expect(document.legalBasis).toEqual(['National Act s.1']);
    expect(get(document, 'statementOfReasons.provisions')).toEqual(['s.1(2)']);
  });

  it('says in a re-notice which URLs still answered, where redirects led, and that nothing is left to complete', () => {
    const first = buildDocument('hosting_notice', contextFor('hosting_notice', 'host-example')).document;
    expect(first.followUp).toBeUndefined();
    expect(first.documentVersion).toBe('1.1');
    const extra = {
      renotice: true,
      stillReachable: ['https://shop.example.test/b'],
      recheckAfter: '2026-03-14T09:00:00.000Z',
      redirected: [{ url: 'https://shop.example.test/b', to: 'https://host.example.test/suspended' }, { url: 'https://elsewhere.test/', to: 'https://x.test/' }, 'junk'],
    };
    const { document, missing } = buildDocument('hosting_notice', contextFor('hosting_notice', 'host-example', { scope: { urls: ['https://shop.example.test/b'] }, extra }));
    expect(missing).toEqual([]);
    expect(document).toMatchObject({
      content: { urls: ['https://shop.example.test/b'] },
      followUp: {
        stillReachable: ['https://shop.example.test/b'],
        // Only the URLs of this notice, and only well-formed entries.
        redirected: [{ url: 'https://shop.example.test/b', to: 'https://host.example.test/suspended' }],
        nextCheckNotBefore: '2026-03-14T09:00:00.000Z',
      },
      reportTo: { how: null },
      response: { outcomes: {} },
    });
    expect(get(document, 'response.how')).toMatch(/^no completion/);
  });

  it('is incomplete without URLs or a deadline', () => {
    expect(buildDocument('hosting_notice', contextFor('hosting_notice', 'host-example', { scope: { urls: [] }, dueAt: null })).missing).toEqual(['scope.urls', 'dueAt']);
  });
});

describe('withdrawal_notice and reminder', () => {
  it('names the withdrawn notices and the reason', () => {
    const view = caseViewFixture({ status: 'withdrawn', withdrawal: { reason: 'Operational conflict', by: 'p_lead', at: '2026-03-03T00:00:00.000Z' } });
    const { document, missing } = buildDocument('withdrawal_notice', contextFor('withdrawal_notice', 'visa', { taskId: null, dueAt: null, extra: { withdrawnNoticeIds: ['ntc_a', 'ntc_b'] } }, view));
    expect(missing).toEqual([]);
    expect(document).toMatchObject({ documentType: 'withdrawal_notice', withdraws: { noticeIds: ['ntc_a', 'ntc_b'] }, reason: 'Operational conflict' });
  });

  it('lists apart the tasks completed before the end, which stand, and may carry only those', () => {
    const view = caseViewFixture({ status: 'withdrawn', withdrawal: { reason: 'Operational conflict', by: 'p_lead', at: '2026-03-03T00:00:00.000Z' } });
    const extra = { withdrawnNoticeIds: ['ntc_a'], withdrawnTaskIds: ['task_a'], standingTaskIds: ['task_b'] };
    const { document, version } = buildDocument('withdrawal_notice', contextFor('withdrawal_notice', 'visa', { taskId: null, dueAt: null, extra }, view));
    expect(version).toBe('1.1');
    expect(document).toMatchObject({ withdraws: { noticeIds: ['ntc_a'], taskIds: ['task_a'] }, stands: { taskIds: ['task_b'] } });
    const onlyStanding = buildDocument('withdrawal_notice', contextFor('withdrawal_notice', 'visa', { taskId: null, dueAt: null, extra: { standingTaskIds: ['task_b'] } }, view));
    expect(onlyStanding.missing).toEqual([]);
    expect(onlyStanding.document).toMatchObject({ withdraws: { noticeIds: [], taskIds: [] }, stands: { taskIds: ['task_b'] } });
  });

  it('refuses a withdrawal that withdraws nothing or gives no reason', () => {
    expect(buildDocument('withdrawal_notice', contextFor('withdrawal_notice', 'visa', { extra: {} })).missing).toEqual(['withdrawnNoticeIds', 'reason']);
  });

  it('reminds of a task with its due date and escalation', () => {
    const ctx = contextFor('reminder', 'visa', { issuedAt: '2026-03-13T00:00:00.000Z', extra: { noticeId: 'ntc_a', escalated: true, taskType: 'confirm_termination' } });
    const { document, missing } = buildDocument('reminder', ctx);
    expect(missing).toEqual([]);
    expect(document).toMatchObject({ regarding: { taskId: 'task_fixture1', noticeId: 'ntc_a', taskType: 'confirm_termination' }, dueAt: '2026-03-12T09:00:00.000Z', overdue: true, escalated: true });
    expect(buildDocument('reminder', contextFor('reminder', 'visa', { taskId: null, dueAt: null })).missing).toEqual(['taskId', 'dueAt']);
  });
});

describe('every document', () => {
  const all = [
    contextFor('termination_request', 'visa'),
    contextFor('freeze_request', 'acq-northbank'),
    contextFor('hosting_notice', 'host-example'),
    contextFor('withdrawal_notice', 'visa', { extra: { withdrawnNoticeIds: ['ntc_a'], reason: 'r' } }),
    contextFor('reminder', 'visa'),
  ];

  it('carries evidence as kind, hash and time only, never content', () => {
    for (const ctx of all) {
      const { document } = buildDocument(ctx.type, ctx);
      const json = JSON.stringify(document);
      expect(json).not.toContain(SECRET_DESCRIPTION);
      expect(json).not.toContain('officer-7');
      if (document.evidence) {
        expect(document.evidence).toEqual([
          { kind: 'test_transaction', sha256: 'a'.repeat(64), collectedAt: '2026-02-27T10:00:00.000Z' },
          { kind: 'screenshot_hash', sha256: 'b'.repeat(64), collectedAt: null },
        ]);
      }
    }
  });

  it('is plain JSON, deterministic, and hashes as sha256 of its canonical form', () => {
    for (const ctx of all) {
      const a = buildDocument(ctx.type, ctx).document;
      const b = buildDocument(ctx.type, ctx).document;
      expect(JSON.parse(JSON.stringify(a))).toEqual(a);
      expect(documentHash(a)).toBe(documentHash(b));
      expect(documentHash(a)).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(documentHash({ b: 1, a: [1, 'x'] })).toBe(createHash('sha256').update('{"a":[1,"x"],"b":1}').digest('hex'));
    expect(documentHash({ a: 1, b: 2 })).toBe(documentHash({ b: 2, a: 1 }));
    const base = buildDocument('hosting_notice', all[2]).document;
    expect(documentHash({ ...base, taskId: 'other' })).not.toBe(documentHash(base));
  });

  it('refuses a context of another type', () => {
    expect(() => buildDocument('freeze_request', contextFor('hosting_notice', 'host-example'))).toThrow(/context/);
  });
});

describe('renderDocumentHtml', () => {
  it('renders every field readably', () => {
    const { document } = buildDocument('termination_request', contextFor('termination_request', 'visa'));
    const html = renderDocumentHtml(document);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<title>Merchant termination request · EFC-2026-0042</title>');
    expect(html).toContain('<dt>Merchant id</dt><dd>4451200001</dd>');
    expect(html).toContain('<dt>Reason code</dt><dd>13</dd>');
    expect(html).toContain('Illegal Transactions');
    expect(html).toContain('https://shop.example.test/a');
    expect(html).not.toContain('<a ');
  });

  it('escapes everything a merchant or partner could have typed', () => {
    const evil = `<script>alert("x")</script> & 'quote'`;
    const view = caseViewFixture({ reference: '<b>ref</b>', merchant: { ...caseViewFixture().merchant, name: evil, legalName: evil, descriptor: '"><img src=x onerror=alert(1)>' } });
    const html = renderDocumentHtml(buildDocument('termination_request', contextFor('termination_request', 'visa', {}, view)).document);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>ref</b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quote&#39;');
    expect(html).toContain('&lt;b&gt;ref&lt;/b&gt;');
    const keyed = renderDocumentHtml({ documentType: 'reminder', '<k>': '<v>' });
    expect(keyed).toContain('&lt;k&gt;');
    expect(keyed).not.toContain('<v>');
  });
});
