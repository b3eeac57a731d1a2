// The reminder: which open task or notice is due (or overdue), and whether it has been escalated.
import { type BuiltDocument, type DocumentContext, DOCUMENT_VERSIONS, header, str, validIso } from './common';

export function buildReminder(ctx: DocumentContext): BuiltDocument {
  const extra = ctx.extra ?? {};
  const missing: string[] = [];
  if (!ctx.taskId) missing.push('taskId');
  if (!validIso(ctx.dueAt)) missing.push('dueAt');
  const overdue = validIso(ctx.dueAt) ? new Date(ctx.issuedAt).getTime() > new Date(ctx.dueAt as string).getTime() : null;
  const document = {
    ...header(ctx),
    regarding: { taskId: ctx.taskId, noticeId: str(extra.noticeId), taskType: str(extra.taskType) },
    dueAt: ctx.dueAt,
    overdue,
    escalated: extra.escalated === true,
    message: str(extra.message) ?? (extra.escalated === true ? 'This request is overdue and has been escalated.' : 'This request is still awaiting your answer.'),
  };
  return { document, version: DOCUMENT_VERSIONS.reminder, missing };
}
