// A signed-off case view and document contexts for the document and notice suites.
import type { CaseView, NoticeType } from '../../domain/types';
import { partnerRequests } from '../../domain/rules/plan';
import type { DocumentContext } from '../../activities/documents';

export const SECRET_DESCRIPTION = 'SECRET-EVIDENCE-DESCRIPTION do not leak';

export function caseViewFixture(over: Partial<CaseView> = {}): CaseView {
  return {
    id: 'case_fixture001',
    reference: 'EFC-2026-0042',
    org: 'ceop',
    jurisdiction: 'GB',
    priority: 'high',
    status: 'disrupting',
    createdAt: '2026-03-01T09:00:00.000Z',
    createdBy: 'p_lead',
    updatedAt: '2026-03-02T09:00:00.000Z',
    closedAt: null,
    merchant: {
      name: 'Example Shop',
      legalName: 'Example Shop Ltd',
      descriptor: 'EXSHOP*ONLINE',
      address: '1 High Street, London',
      country: 'GB',
      phone: '+44 20 7946 0000',
      taxIds: ['GB123456789'],
      dateOpened: '2024-01-15',
      principals: Array.from({ length: 6 }, (_, i) => ({ name: `Owner ${i + 1}`, role: 'director' })),
      urls: ['https://shop.example.test/a', 'https://shop.example.test/b'],
      paymentChannels: [
        { kind: 'card', scheme: 'visa', acquirer: 'acq-northbank', merchantId: '4451200001', mcc: '5815' },
        { kind: 'card', scheme: 'mastercard', acquirer: 'acq-northbank', merchantId: '5551200002' },
        { kind: 'wallet', provider: 'paypal', accountId: 'PP-88812' },
      ],
      hosting: [{ provider: 'host-example', ip: '203.0.113.7', urls: ['https://shop.example.test/a', 'https://shop.example.test/b'] }],
    },
    evidence: [
      { kind: 'test_transaction', sha256: 'a'.repeat(64), description: SECRET_DESCRIPTION, collectedAt: '2026-02-27T10:00:00.000Z', collectedBy: 'officer-7' },
      { kind: 'screenshot_hash', sha256: 'b'.repeat(64) },
    ],
    plan: { freezeAssets: true, slas: { verification: '48h', signoff: '72h', termination: '10d', freeze: '96h', removal: '24h' } },
    steps: [],
    deconflictedWith: [],
    verifiedBy: 'p_analyst',
    signedOffBy: 'p_officer',
    actionDate: null,
    withdrawal: null,
    ...over,
  };
}

/** The context the workflow would build for the plan's request of `type` to `org`. */
export function contextFor(type: NoticeType, org: string, over: Partial<DocumentContext> = {}, view = caseViewFixture()): DocumentContext {
  const req = partnerRequests({ merchant: view.merchant, plan: view.plan }).find((r) => r.noticeType === type && r.org === org);
  return {
    type,
    caseView: view,
    org,
    scope: req?.scope ?? {},
    taskId: 'task_fixture1',
    dueAt: '2026-03-12T09:00:00.000Z',
    issuedAt: '2026-03-02T09:00:00.000Z',
    ...over,
  };
}
