// The termination request: what a terminated-merchant listing needs (Mastercard MATCH; Visa VMSS is alike).
import type { PaymentChannel } from '../../domain/types';
import { type BuiltDocument, type DocumentContext, DOCUMENT_VERSIONS, evidenceReferences, header, isRecord, responseInstructions, str, validIso } from './common';

export const MATCH_REASON_CODE = '13';
export const MATCH_REASON = 'Illegal Transactions';
export const LISTING_YEARS = 5;
export const MAX_PRINCIPALS = 5;

/** The next business day (Monday to Friday, UTC; public holidays vary by scheme region and are not modelled). */
export function nextBusinessDay(iso: string): string {
  const d = new Date(iso);
  do d.setUTCDate(d.getUTCDate() + 1);
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6);
  return d.toISOString();
}

function channelOf(scope: Record<string, unknown>): PaymentChannel | null {
  const ch = scope.channel;
  if (!isRecord(ch)) return null;
  if (ch.kind === 'card' && str(ch.scheme) && str(ch.acquirer) && str(ch.merchantId)) return ch as unknown as PaymentChannel;
  if (ch.kind === 'wallet' && str(ch.provider) && str(ch.accountId)) return ch as unknown as PaymentChannel;
  return null;
}

export function buildTerminationRequest(ctx: DocumentContext): BuiltDocument {
  const m = ctx.caseView.merchant;
  const extra = ctx.extra ?? {};
  const missing: string[] = [];
  const channel = channelOf(ctx.scope);
  if (!channel) missing.push('scope.channel');

  // A wallet provider acquires its own merchants, so it stands in for the acquirer there.
  const acquirerId = channel ? (channel.kind === 'card' ? channel.acquirer : channel.provider) : null;
  const merchantId = channel ? (channel.kind === 'card' ? channel.merchantId : channel.accountId) : null;
  const legalName = m.legalName ?? m.name;
  if (!acquirerId) missing.push('acquirerId');
  if (!merchantId) missing.push('merchant.merchantId');
  if (!str(legalName)) missing.push('merchant.legalName');
  if (ctx.caseView.evidence.length === 0) missing.push('evidence');
  if (!validIso(ctx.dueAt)) missing.push('dueAt');

  const principals = (m.principals ?? []).slice(0, MAX_PRINCIPALS).map((p) => ({
    name: p.name,
    role: p.role ?? null,
    address: p.address ?? null,
    nationalId: p.nationalId ?? null,
  }));
  const merchant = {
    legalName,
    dbaName: m.name,
    descriptor: m.descriptor ?? null,
    merchantId,
    mcc: channel?.kind === 'card' ? (channel.mcc ?? null) : null,
    address: m.address ?? null,
    country: m.country ?? null,
    phone: m.phone ?? null,
    taxIds: m.taxIds ?? [],
    dateOpened: m.dateOpened ?? null,
    urls: m.urls,
  };
  // Listing fields the scheme will ask for but the case did not capture: named, so nobody mistakes a gap for a null answer.
  const unavailable = Object.entries({ ...merchant, principals })
    .filter(([, v]) => v === null || (Array.isArray(v) && v.length === 0))
    .map(([k]) => k);

  const terminatedAt = str(extra.terminatedAt);
  const document = {
    ...header(ctx),
    channel: channel
      ? channel.kind === 'card'
        ? { kind: 'card', scheme: channel.scheme, acquirer: channel.acquirer, merchantId: channel.merchantId }
        : { kind: 'wallet', provider: channel.provider, accountId: channel.accountId }
      : null,
    request: 'Terminate the merchant agreement for the channel above and list the merchant as terminated for the reason below.',
    listing: {
      acquirerId,
      merchant,
      principals,
      reasonCode: MATCH_REASON_CODE,
      reason: MATCH_REASON,
      duration: { years: LISTING_YEARS, iso8601: `P${LISTING_YEARS}Y` },
      due: {
        rule: 'one business day after termination',
        at: terminatedAt && validIso(terminatedAt) ? nextBusinessDay(terminatedAt) : null,
      },
      unavailableFields: unavailable,
    },
    comments:
      str(extra.comments) ??
      `Law-enforcement case ${ctx.caseView.reference} (${ctx.caseView.jurisdiction}): evidence verified and signed off; the merchant is suspected of selling illegal content.`,
    authorisation: { signedOffBy: ctx.caseView.signedOffBy, verifiedBy: ctx.caseView.verifiedBy },
    evidence: evidenceReferences(ctx.caseView.evidence),
    response: responseInstructions(ctx.taskId, {
      terminated: 'data.terminatedAt: when the merchant agreement ended (RFC 3339)',
      declined: 'comment: why',
    }),
  };
  return { document, version: DOCUMENT_VERSIONS.termination_request, missing };
}
