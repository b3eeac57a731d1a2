// Evidence items are known by their hash: the same hash twice is one item, and must be described the same way.
import type { Evidence } from '../types';

/** Whether two items with one hash say the same of it (kind, description, when and by whom collected). */
export function sameEvidence(a: Evidence, b: Evidence): boolean {
  return a.sha256 === b.sha256 && a.kind === b.kind && a.description === b.description && a.collectedAt === b.collectedAt && a.collectedBy === b.collectedBy;
}

/**
 * The items whose hash an earlier item of `items` (`earlier`: its index) or one of `held` (`earlier`: null) has with
 * other details.
 */
export function conflictingEvidence(items: readonly Evidence[], held: readonly Evidence[] = []): { index: number; earlier: number | null }[] {
  const seen = new Map<string, { item: Evidence; index: number | null }>();
  for (const e of held) if (!seen.has(e.sha256)) seen.set(e.sha256, { item: e, index: null });
  const conflicts: { index: number; earlier: number | null }[] = [];
  items.forEach((e, index) => {
    const before = seen.get(e.sha256);
    if (!before) seen.set(e.sha256, { item: e, index });
    else if (!sameEvidence(before.item, e)) conflicts.push({ index, earlier: before.index });
  });
  return conflicts;
}

/** `items` without exact repeats of an earlier item's hash, in order. */
export function uniqueEvidence<T extends Evidence>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((e) => !seen.has(e.sha256) && (seen.add(e.sha256), true));
}
