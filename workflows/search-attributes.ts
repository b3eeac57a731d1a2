// Custom search attributes: discovery in the Temporal UI and `temporal workflow list` only; no names or evidence here.
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair, type TypedSearchAttributes } from '@temporalio/common';
import { conflictKeys } from '../domain/rules/plan';
import type { CaseView } from '../domain/types';

export const SEARCH_ATTRIBUTES = {
  CaseReference: 'Keyword',
  CaseStatus: 'Keyword',
  MerchantIds: 'KeywordList',
  Jurisdiction: 'Keyword',
} as const;

export const CaseReferenceKey = defineSearchAttributeKey('CaseReference', SearchAttributeType.KEYWORD);
export const CaseStatusKey = defineSearchAttributeKey('CaseStatus', SearchAttributeType.KEYWORD);
export const MerchantIdsKey = defineSearchAttributeKey('MerchantIds', SearchAttributeType.KEYWORD_LIST);
export const JurisdictionKey = defineSearchAttributeKey('Jurisdiction', SearchAttributeType.KEYWORD);

/**
 * A case's search attributes: set by the API when it starts the case workflow, and by the workflow at intake when the
 * start did not set them all equal (see PATCHES.startAttributes).
 */
export function caseSearchAttributes(c: Pick<CaseView, 'reference' | 'status' | 'jurisdiction' | 'merchant'>): SearchAttributePair[] {
  const keys = conflictKeys(c.merchant);
  return [
    { key: CaseReferenceKey, value: c.reference },
    { key: CaseStatusKey, value: c.status },
    { key: MerchantIdsKey, value: [...keys.merchantIds, ...keys.walletIds] },
    { key: JurisdictionKey, value: c.jurisdiction },
  ];
}

/** Whether a run's search attributes already hold every pair (as its start set them). */
export function holdsSearchAttributes(current: TypedSearchAttributes, pairs: readonly SearchAttributePair[]): boolean {
  return pairs.every(({ key, value }) => JSON.stringify(current.get(key) ?? null) === JSON.stringify(value));
}
