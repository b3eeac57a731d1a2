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
 * Temporal refuses a start or upsert whose search attribute value encodes to more than 2 KiB (the server's
 * `frontend.searchAttributesSizeOfValueLimit`): a case may name 50 payment channels with ids of up to 128 characters, far more.
 */
export const MAX_SEARCH_ATTRIBUTE_BYTES = 2048;

/** Bytes of a string in UTF-8 (pure: no Buffer or TextEncoder in workflow code). */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * As many of `ids` as fit in one search attribute value (JSON, at most MAX_SEARCH_ATTRIBUTE_BYTES), in order: the
 * attribute is for discovery only (deconfliction reads PostgreSQL), so a case with more ids is found by its first ones.
 * Every list a start ever took fits whole, so runs started before this cap replay unchanged.
 */
export function fittingIds(ids: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 2; // []
  for (const id of ids) {
    const more = utf8Bytes(JSON.stringify(id)) + (kept.length > 0 ? 1 : 0);
    if (bytes + more > MAX_SEARCH_ATTRIBUTE_BYTES) break;
    kept.push(id);
    bytes += more;
  }
  return kept;
}

/**
 * A case's search attributes: set by the API when it starts the case workflow, and by the workflow at intake when the
 * start did not set them all equal (see PATCHES.startAttributes).
 *
 * Part of what replay compares: whether intake upserts is decided by comparing this function's answer with what the
 * run's start recorded, so a change here (or to conflictKeys or fittingIds) can turn a recorded run's decision and fail
 * its replay. Change them only behind a patch, as workflow code; the replay tests run every recorded history through them.
 */
export function caseSearchAttributes(c: Pick<CaseView, 'reference' | 'status' | 'jurisdiction' | 'merchant'>): SearchAttributePair[] {
  const keys = conflictKeys(c.merchant);
  return [
    { key: CaseReferenceKey, value: c.reference },
    { key: CaseStatusKey, value: c.status },
    { key: MerchantIdsKey, value: fittingIds([...keys.merchantIds, ...keys.walletIds]) },
    { key: JurisdictionKey, value: c.jurisdiction },
  ];
}

/** Whether a run's search attributes already hold every pair (as its start set them). */
export function holdsSearchAttributes(current: TypedSearchAttributes, pairs: readonly SearchAttributePair[]): boolean {
  return pairs.every(({ key, value }) => JSON.stringify(current.get(key) ?? null) === JSON.stringify(value));
}
