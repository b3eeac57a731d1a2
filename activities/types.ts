// The argument and result shapes of every activity; workflows import this file for types only.
import type { AuditInput, CaseView, NoticeType, Task } from '../domain/types';

/** A case view to write. */
export interface CaseViewWrite {
  view: CaseView;
  version: number;
  /**
   * With a closed case's view: every task its workflow knows, which the closing write's stray sweep leaves alone (the
   * workflow writes them itself, some perhaps still in flight). Without it, no sweep (writes from older workflow code).
   */
  knownTaskIds?: string[];
}

export interface RecordCaseArgs extends CaseViewWrite {
  audit: AuditInput[];
  /** The workflow task's history length when it made the write (CaseState.fence); absent from older workflow code. */
  fence?: number;
}

export interface RecordTaskArgs {
  task: Task;
  caseOrg: string;
  version: number;
  audit: AuditInput[];
  /** As RecordCaseArgs.fence. */
  fence?: number;
  /** The case view to write in the same transaction (a new task changes its step's task list). */
  caseView?: CaseViewWrite;
  /** When set, a positive partner confirmation is observed in the outcome histograms (seconds since this time). */
  observeSince?: string;
  /** Further tasks written in the same statement (a step's partner tasks, opened together: PATCHES.batchedOpenings). */
  moreTasks?: { task: Task; version: number }[];
}

export interface FindConflictsArgs {
  caseId: string;
  merchantIds: string[];
  walletIds: string[];
  hosts: string[];
}

export interface NoticeArgs {
  noticeId: string;
  type: NoticeType;
  caseId: string;
  taskId: string | null;
  org: string;
  /**
   * The case view the document is built from. Workflows now leave it out (it was a seventh of a case's history): they
   * store their projection before preparing a notice, and the activity reads it there. Older histories carry it.
   */
  view?: CaseView;
  scope: Record<string, unknown>;
  dueAt: string | null;
  extra?: Record<string, unknown>;
  /** Notices this one replaces on the same task (a request sent again): their retries stop once it is stored. */
  supersedes?: string[];
}

export interface PreparedNotice {
  noticeId: string;
  documentId: string | null;
  documentHash: string | null;
  hasWebhook: boolean;
  missing: string[];
}

export interface SendResult {
  delivered: boolean;
  status?: number;
  reason?: 'no_webhook' | 'already_delivered' | 'superseded' | 'abandoned' | 'task_closed';
}

export interface CheckUrlsArgs {
  caseId: string;
  urls: string[];
}

export interface ArchiveArgs {
  caseId: string;
  workflowId: string;
}

export interface OutcomeTiming {
  kind: 'termination' | 'freeze' | 'removal';
  seconds: number;
}

/** What a URL check found: `redirected` names, for each URL answered after redirects, the URL that answered last. */
export interface SettleNoticesArgs {
  caseId: string;
  reason: string;
  /** Notices still being delivered that stay so (a skipped request's withdrawal notice, waited for after the close). */
  keep?: string[];
  /** A later settle of the same case (its audit entry gets a key of its own). */
  round?: number;
}

export interface UrlCheckResult {
  up: string[];
  down: string[];
  redirected?: { url: string; to: string }[];
  /** URLs the check had no time to finish (its deadline passed): counted in `up`, never as gone. */
  unchecked?: string[];
  /**
   * URLs whose host resolves, or whose redirect leads, to an address the check may not contact (loopback, private;
   * TAKEDOWN_ALLOW_PRIVATE_URL_CHECKS off): counted in `up`, never as gone, since the shop's DNS may answer the checker
   * alone so.
   */
  forbidden?: string[];
}

export interface TakedownActivities {
  recordCase(args: RecordCaseArgs): Promise<void>;
  findConflicts(args: FindConflictsArgs): Promise<string[]>;
  recordTask(args: RecordTaskArgs): Promise<void>;
  /** With `caseView` the view is written in the same statement (staged changes carried by an audit append). */
  appendAudit(args: { caseId: string; entries: AuditInput[]; fence?: number; caseView?: CaseViewWrite }): Promise<void>;
  prepareNotice(args: NoticeArgs): Promise<PreparedNotice>;
  /** `org` labels the attempt in the metrics only (absent from calls recorded before it was passed). */
  sendNotice(args: { noticeId: string; org?: string }): Promise<SendResult>;
  settleNotices(args: SettleNoticesArgs): Promise<{ abandoned: string[] }>;
  checkUrls(args: CheckUrlsArgs): Promise<UrlCheckResult>;
  observeOutcome(args: OutcomeTiming): Promise<void>;
  archiveHistory(args: ArchiveArgs): Promise<{ hash: string; runs: number }>;
}
