// The words a 422 puts beside a field: plain ones for zod's common issues, a schema's own message kept.
import { describe, expect, it } from 'vitest';
import { CaseInputSchema, CompleteTaskSchema, WithdrawSchema } from '../../domain/schemas';

const messages = (r: { error?: { issues: { path: PropertyKey[]; message: string }[] } }) => Object.fromEntries((r.error?.issues ?? []).map((i) => [i.path.join('.'), i.message]));

describe('validation messages', () => {
  it('say what is wrong in plain words', () => {
    expect(messages(CaseInputSchema.safeParse({}))).toEqual({ reference: 'is required', jurisdiction: 'is required', merchant: 'is required', evidence: 'is required' });
    expect(messages(WithdrawSchema.safeParse({ reason: '' }))).toEqual({ reason: 'is required' });
    expect(messages(WithdrawSchema.safeParse({ reason: 'x'.repeat(2001) }))).toEqual({ reason: 'must be at most 2000 characters' });
    expect(messages(CompleteTaskSchema.safeParse({ outcome: 7 }))).toEqual({ outcome: 'must be a string' });
    const bad = messages(
      CaseInputSchema.safeParse({
        reference: 'R',
        jurisdiction: 'GB',
        priority: 'urgent',
        merchant: { name: 'Shop', paymentChannels: [{ kind: 'card', scheme: 'visa', acquirer: 'acq' }] },
        evidence: [],
        plan: { slas: { removal: '0s' } },
      }),
    );
    expect(bad).toMatchObject({
      priority: 'must be one of low, normal, high, critical',
      'merchant.paymentChannels.0.merchantId': 'is required',
      evidence: 'needs at least one item',
      'plan.slas.removal': 'must be a duration from 1ms to 366d, such as 72h, 10d, 3s or 500ms',
    });
  });
});
