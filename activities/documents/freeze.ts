// The freeze request, shaped after the EU freezing certificate (Regulation (EU) 2018/1805, Annex I).
import { type BuiltDocument, type DocumentContext, DOCUMENT_VERSIONS, evidenceReferences, header, isRecord, issuingAuthority, responseInstructions, str, validIso } from './common';

export const FREEZE_LEGAL_BASIS = 'Regulation (EU) 2018/1805 on the mutual recognition of freezing orders and confiscation orders, Articles 4 and 7';
export const FREEZE_REMEDIES =
  'Affected persons may challenge the freezing order in the issuing state under its national law; remedies in the executing state follow Article 33 of Regulation (EU) 2018/1805.';

interface Account {
  kind: string;
  scheme?: string;
  merchantId?: string;
  accountId?: string;
}

function accountsOf(scope: Record<string, unknown>): Account[] {
  const list = Array.isArray(scope.accounts) ? scope.accounts : [];
  return list.filter((a): a is Account => isRecord(a) && (str(a.merchantId) !== null || str(a.accountId) !== null)) as Account[];
}

/** Amounts as the caller knows them, keyed by merchant or account id: `{ "PP-1": { amount: "1200.00", currency: "EUR" } }`. */
function amountOf(extra: Record<string, unknown>, id: string): { amount: string | number | null; currency: string | null } {
  const amounts = isRecord(extra.amounts) ? extra.amounts : {};
  const a = amounts[id];
  if (!isRecord(a)) return { amount: null, currency: null };
  const amount = typeof a.amount === 'number' || typeof a.amount === 'string' ? a.amount : null;
  return { amount, currency: str(a.currency) };
}

export function buildFreezeRequest(ctx: DocumentContext): BuiltDocument {
  const v = ctx.caseView;
  const m = v.merchant;
  const extra = ctx.extra ?? {};
  const missing: string[] = [];
  const accounts = accountsOf(ctx.scope);
  if (accounts.length === 0) missing.push('scope.accounts');
  // An unsigned certificate is a ground for refusal: no freeze leaves without the officer's sign-off.
  if (!str(v.signedOffBy)) missing.push('signature.signedOffBy');
  if (v.evidence.length === 0) missing.push('evidence');
  if (!validIso(ctx.dueAt)) missing.push('dueAt');

  const urgent = v.priority === 'high' || v.priority === 'critical' || extra.urgent === true;
  const document = {
    ...header(ctx),
    certificate: 'Freezing certificate after Regulation (EU) 2018/1805, Annex I',
    issuingAuthority: issuingAuthority(ctx),
    executing: { org: ctx.org, state: str(extra.executingState) },
    urgency: urgent
      ? {
          urgent: true,
          reason: str(extra.urgencyReason) ?? `case priority ${v.priority}: assets may be moved once the merchant learns of the action`,
          recognitionWithin: '48h',
          executionWithin: '48h',
          requestedBy: ctx.dueAt,
        }
      : { urgent: false, reason: null, recognitionWithin: null, executionWithin: null, requestedBy: ctx.dueAt },
    personsConcerned: [
      {
        type: 'legal_person',
        name: m.legalName ?? m.name,
        tradingName: m.name,
        address: m.address ?? null,
        country: m.country ?? null,
        taxIds: m.taxIds ?? [],
      },
      ...(m.principals ?? []).map((p) => ({ type: 'natural_person', name: p.name, role: p.role ?? null, address: p.address ?? null, nationalId: p.nationalId ?? null })),
    ],
    property: {
      description: 'Funds held for the merchant in the accounts below, including settlement funds and reserves.',
      accounts: accounts.map((a) => {
        const id = a.kind === 'card' ? (a.merchantId ?? '') : (a.accountId ?? '');
        return a.kind === 'card'
          ? { kind: 'card_merchant_account', scheme: a.scheme ?? null, merchantId: a.merchantId ?? null, ...amountOf(extra, id) }
          : { kind: 'wallet_account', accountId: a.accountId ?? null, ...amountOf(extra, id) };
      }),
    },
    grounds: {
      summary:
        str(extra.grounds) ??
        `Case ${v.reference} (${v.jurisdiction}): the merchant is suspected of selling illegal content; payments were traced to the accounts listed. Freezing prevents the proceeds from being moved pending confiscation.`,
      evidence: evidenceReferences(v.evidence),
    },
    legalBasis: str(extra.legalBasis) ?? FREEZE_LEGAL_BASIS,
    legalRemedies: str(extra.legalRemedies) ?? FREEZE_REMEDIES,
    signature: {
      signedOffBy: v.signedOffBy,
      signedOffAt: str(extra.signedOffAt),
      verifiedBy: v.verifiedBy,
      issuedAt: ctx.issuedAt,
    },
    response: responseInstructions(ctx.taskId, {
      frozen: 'data.amount and data.currency: what was frozen',
      declined: 'comment: why (for instance a ground for non-recognition)',
    }),
  };
  return { document, version: DOCUMENT_VERSIONS.freeze_request, missing };
}
