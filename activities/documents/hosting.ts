// The hosting notice, shaped after an order to act against illegal content (Regulation (EU) 2022/2065, Article 9).
import { type BuiltDocument, type DocumentContext, DOCUMENT_VERSIONS, evidenceReferences, header, isRecord, issuingAuthority, responseInstructions, str, strList, validIso } from './common';

export const HOSTING_LEGAL_BASIS = [
  'Regulation (EU) 2022/2065 (Digital Services Act), Article 9',
  'Directive 2011/93/EU on combating the sexual abuse and sexual exploitation of children, Articles 5 and 25',
];
export const HOSTING_PROVISIONS = [
  'Directive 2011/93/EU, Article 2(c): definition of child sexual abuse material',
  'Directive 2011/93/EU, Article 5: offences concerning child sexual abuse material, including its distribution and offering',
  'Regulation (EU) 2022/2065, Article 3(h): illegal content',
];

export function buildHostingNotice(ctx: DocumentContext): BuiltDocument {
  const v = ctx.caseView;
  const extra = ctx.extra ?? {};
  const missing: string[] = [];
  const urls = strList(ctx.scope.urls);
  if (urls.length === 0) missing.push('scope.urls');
  if (!validIso(ctx.dueAt)) missing.push('dueAt');
  const ips = [...new Set(v.merchant.hosting.filter((h) => h.provider === ctx.org && h.ip).map((h) => h.ip as string))];
  const provisions = strList(extra.provisions);
  const renotice = extra.renotice === true;

  const document = {
    ...header(ctx),
    order: 'Order to act against illegal content after Regulation (EU) 2022/2065, Article 9',
    issuingAuthority: issuingAuthority(ctx),
    legalBasis: strList(extra.legalBasis).length > 0 ? strList(extra.legalBasis) : HOSTING_LEGAL_BASIS,
    statementOfReasons: {
      summary:
        str(extra.reasons) ??
        `The content at the URLs below is offered for sale by a merchant under investigation in case ${v.reference} (${v.jurisdiction}) and is illegal content under the provisions cited.`,
      provisions: provisions.length > 0 ? provisions : HOSTING_PROVISIONS,
    },
    content: { urls, ips },
    territorialScope: str(extra.territorialScope) ?? 'worldwide: the content is illegal in every jurisdiction concerned',
    action: 'Remove or disable access to each URL listed, and preserve the content and related data for the investigation.',
    redress: {
      provider:
        str(extra.redressProvider) ??
        `The provider may contest this order before the competent courts of the issuing state (${v.jurisdiction}) and answer with the outcome "declined" and its reasons.`,
      recipientOfService:
        str(extra.redressRecipient) ??
        'The recipient of the service who provided the content may use the provider\'s internal complaint system and contest the order before the competent courts of the issuing state.',
    },
    reportTo: {
      org: v.org,
      when: 'without undue delay',
      requestedBy: ctx.dueAt,
      how: ctx.taskId && !renotice ? `POST /v1/tasks/${ctx.taskId}/complete` : null,
    },
    evidence: evidenceReferences(v.evidence),
    ...(renotice
      ? {
          // A re-notice: the task is already completed as removed, so there is nothing more to complete.
          followUp: followUp(extra, urls),
          response: { how: 'no completion: the task was already completed as removed; disable access to the URLs listed', outcomes: {} },
        }
      : {
          response: responseInstructions(ctx.taskId, {
            removed: 'data.removedAt: when access was disabled (RFC 3339)',
            declined: 'comment: why',
          }),
        }),
  };
  return { document, version: DOCUMENT_VERSIONS.hosting_notice, missing };
}

/** Why a re-notice came: which URLs still answered after the removal was confirmed, and where redirects led. */
function followUp(extra: Record<string, unknown>, urls: string[]): Record<string, unknown> {
  const redirected = Array.isArray(extra.redirected)
    ? extra.redirected.filter((r): r is { url: string; to: string } => isRecord(r) && typeof r.url === 'string' && typeof r.to === 'string' && urls.includes(r.url))
    : [];
  return {
    reason: 'After the removal was confirmed, the URLs listed still answered 2xx when Takedown checked them.',
    stillReachable: urls,
    // A URL that answers only through a redirect: the address that answered last (a page of your own, perhaps).
    redirected: redirected.map((r) => ({ url: r.url, to: r.to })),
    nextCheckNotBefore: validIso(str(extra.recheckAfter)) ? extra.recheckAfter : null,
    ifUnresolved: 'the case lead decides how to proceed',
  };
}
