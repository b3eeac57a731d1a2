// What every partner document shares: the context type, the header, evidence references, and small field readers.
import type { CaseView, Evidence, NoticeType } from '../../domain/types';

/** Everything a document is built from; pure data, so building is deterministic and testable. */
export interface DocumentContext {
  type: NoticeType;
  caseView: CaseView;
  /** The recipient org. */
  org: string;
  /** What this org is asked about: `{ channel }` for termination, `{ accounts }` for freeze, `{ urls }` for hosting. */
  scope: Record<string, unknown>;
  taskId: string | null;
  dueAt: string | null;
  /** Per-type additions (withdrawn notice ids, amounts, legal texts that override the defaults, ...). */
  extra?: Record<string, unknown>;
  /** When the document is issued: the caller passes it so a rebuilt document hashes the same. */
  issuedAt: string;
}

export interface BuiltDocument {
  document: Record<string, unknown>;
  version: string;
  /** Required fields that are absent; a document with any is never sent. */
  missing: string[];
}

export const DOCUMENT_VERSIONS: Record<NoticeType, string> = {
  termination_request: '1.0',
  freeze_request: '1.0',
  hosting_notice: '1.1',
  withdrawal_notice: '1.1',
  reminder: '1.0',
};

export const DOCUMENT_TITLES: Record<NoticeType, string> = {
  termination_request: 'Merchant termination request',
  freeze_request: 'Freezing certificate (asset freeze request)',
  hosting_notice: 'Order to act against illegal content',
  withdrawal_notice: 'Withdrawal of earlier requests',
  reminder: 'Reminder',
};

/** Evidence travels as references only: what kind, which hash, when. Never descriptions, collectors or content. */
export function evidenceReferences(evidence: Evidence[]): { kind: string; sha256: string; collectedAt: string | null }[] {
  return evidence.map((e) => ({ kind: e.kind, sha256: e.sha256, collectedAt: e.collectedAt ?? null }));
}

export function header(ctx: DocumentContext): Record<string, unknown> {
  const v = ctx.caseView;
  return {
    documentType: ctx.type,
    documentVersion: DOCUMENT_VERSIONS[ctx.type],
    title: DOCUMENT_TITLES[ctx.type],
    issuedAt: ctx.issuedAt,
    case: { id: v.id, reference: v.reference, jurisdiction: v.jurisdiction, priority: v.priority },
    issuer: { org: v.org },
    recipient: { org: ctx.org },
    taskId: ctx.taskId,
    dueAt: ctx.dueAt,
  };
}

/** How the recipient answers: by completing its task through the API (the contract's outcomes). */
export function responseInstructions(taskId: string | null, outcomes: Record<string, string>): Record<string, unknown> {
  return {
    how: taskId ? `POST /v1/tasks/${taskId}/complete` : 'no response expected',
    outcomes,
  };
}

export function str(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

export function strList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((x): x is string => typeof x === 'string' && x.trim() !== '') : [];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Strips undefined members so the hash taken now equals the hash of the jsonb copy read back later. */
export function jsonClean<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function validIso(value: string | null): boolean {
  return value !== null && !Number.isNaN(new Date(value).getTime());
}

export function issuingAuthority(ctx: DocumentContext): Record<string, unknown> {
  const extra = ctx.extra ?? {};
  const given = isRecord(extra.issuingAuthority) ? extra.issuingAuthority : {};
  return {
    org: ctx.caseView.org,
    name: str(given.name) ?? ctx.caseView.org,
    state: ctx.caseView.jurisdiction,
    // A contact channel always exists: the case's org answers through its task in the orchestrator.
    contact: isRecord(extra.contact) ? extra.contact : { channel: 'takedown orchestrator', org: ctx.caseView.org, caseReference: ctx.caseView.reference },
  };
}
