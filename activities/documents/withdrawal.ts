// The withdrawal notice: which earlier requests no longer stand, and why.
import { type BuiltDocument, type DocumentContext, DOCUMENT_VERSIONS, header, str, strList } from './common';

export function buildWithdrawalNotice(ctx: DocumentContext): BuiltDocument {
  const extra = ctx.extra ?? {};
  const noticeIds = strList(extra.withdrawnNoticeIds);
  // Tasks of the recipient's that were completed before the case ended: they stand (notices since v1.1 list them apart).
  const standing = strList(extra.standingTaskIds);
  const reason = str(extra.reason) ?? str(ctx.caseView.withdrawal?.reason);
  const missing: string[] = [];
  if (noticeIds.length === 0 && standing.length === 0) missing.push('withdrawnNoticeIds');
  if (!reason) missing.push('reason');
  const document = {
    ...header(ctx),
    withdraws: { noticeIds, taskIds: strList(extra.withdrawnTaskIds) },
    stands: { taskIds: standing },
    reason,
    effect:
      'Take no further action on the requests listed under withdraws; their tasks are cancelled. Tasks listed under stands were completed before the case ended and stay completed. Actions already taken need not be reversed unless asked separately.',
  };
  return { document, version: DOCUMENT_VERSIONS.withdrawal_notice, missing };
}
