// Custom search attributes: discovery in the Temporal UI and `temporal workflow list` only; no names or evidence here.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

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
