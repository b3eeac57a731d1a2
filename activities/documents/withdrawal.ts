// The withdrawal notice: which earlier requests no longer stand, and why.
import { type BuiltDocument, type DocumentContext, DOCUMENT_VERSIONS, header, str, strList } from './common';

export function buildWithdrawalNotice(ctx: DocumentContext): BuiltDocument {
  const extra = ctx.extra ?? {};
  const noticeIds = strList(extra.withdrawnNoticeIds);
  const reason = str(extra.reason) ?? str(ctx.caseView.withdrawal?.reason);
  const missing: string[] = [];
  if (noticeIds.length === 0) missing.push('withdrawnNoticeIds');
  if (!reason) missing.push('reason');
  const document = {
    ...header(ctx),
    withdraws: { noticeIds, taskIds: strList(extra.withdrawnTaskIds) },
    reason,
    effect: 'Take no further action on the requests listed; their tasks are cancelled. Actions already taken need not be reversed unless asked separately.',
  };
  return { document, version: DOCUMENT_VERSIONS.withdrawal_notice, missing };
}
