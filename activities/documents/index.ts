// The documents partners receive: built from the case as pure data, checked for completeness, hashed, rendered.
import type { NoticeType } from '../../domain/types';
import { type BuiltDocument, type DocumentContext, jsonClean } from './common';
import { buildFreezeRequest } from './freeze';
import { buildHostingNotice } from './hosting';
import { buildReminder } from './reminder';
import { buildTerminationRequest } from './termination';
import { buildWithdrawalNotice } from './withdrawal';

export type { BuiltDocument, DocumentContext } from './common';
export { DOCUMENT_VERSIONS, evidenceReferences } from './common';
export { nextBusinessDay } from './termination';
export { renderDocumentHtml, escapeHtml } from './render-html';

const BUILDERS: Record<NoticeType, (ctx: DocumentContext) => BuiltDocument> = {
  termination_request: buildTerminationRequest,
  freeze_request: buildFreezeRequest,
  hosting_notice: buildHostingNotice,
  withdrawal_notice: buildWithdrawalNotice,
  reminder: buildReminder,
};

export function buildDocument(type: NoticeType, ctx: DocumentContext): BuiltDocument {
  const build = BUILDERS[type];
  if (!build) throw new TypeError(`unknown document type: ${String(type)}`);
  if (ctx.type !== type) throw new TypeError(`document type ${type} built from a ${ctx.type} context`);
  const built = build(ctx);
  return { ...built, document: jsonClean(built.document) };
}

/** sha256 (hex) of the RFC 8785 canonical JSON: the value the audit chain records for a document. */
export { documentHash } from '../../db/queries/documents';
