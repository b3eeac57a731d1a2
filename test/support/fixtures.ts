// Case inputs shared by tests and benchmarks; pure data (no vitest), so bench/ can use it too.
import { randomBytes } from 'node:crypto';
import type { CaseInput } from '../../domain/types';

/** A case with merchant ids, accounts and hosts of its own (no deconfliction review): five partner requests. */
export function sampleCase(overrides: Partial<CaseInput> = {}, unique = randomBytes(4).toString('hex')): CaseInput {
  return {
    reference: `EFC-TEST-${unique}`,
    jurisdiction: 'GB',
    priority: 'high',
    merchant: {
      name: `Example Shop ${unique}`,
      descriptor: 'EXSHOP*ONLINE',
      urls: [`https://shop-${unique}.example.test/a`],
      paymentChannels: [
        { kind: 'card', scheme: 'visa', acquirer: 'acq-northbank', merchantId: `M${unique}` },
        { kind: 'wallet', provider: 'paypal', accountId: `PP-${unique}` },
      ],
      hosting: [{ provider: 'host-example', ip: '203.0.113.7', urls: [`https://shop-${unique}.example.test/a`] }],
    },
    evidence: [{ kind: 'test_transaction', sha256: 'a'.repeat(64), description: 'test purchase', collectedAt: '2026-11-01T10:00:00Z', collectedBy: 'officer 1' }],
    plan: { freezeAssets: true, slas: { verification: '48h', signoff: '72h', termination: '10d', freeze: '96h', removal: '24h' } },
    ...overrides,
  };
}
