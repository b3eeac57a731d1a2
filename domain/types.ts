// Plain types and enums shared by the API, workflows and activities. No zod here: workflows import this file.

export const ROLES = ['case_lead', 'analyst', 'le_officer', 'le_supervisor', 'partner', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const CASE_STATUSES = [
  'verifying',
  'awaiting_signoff',
  'disrupting',
  'completed',
  'completed_with_exceptions',
  'closed_unverified',
  'closed_rejected',
  'withdrawn',
  'failed',
] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];
export const OPEN_CASE_STATUSES: readonly CaseStatus[] = ['verifying', 'awaiting_signoff', 'disrupting'];
/** Whether a case with this status has ended (any status but the open ones). */
export const isClosedStatus = (status: CaseStatus): boolean => !OPEN_CASE_STATUSES.includes(status);

export const STEP_NAMES = ['verification', 'signoff', 'termination', 'freeze', 'hosting'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export const STEP_STATUSES = ['pending', 'in_progress', 'done', 'declined', 'skipped', 'cancelled', 'failed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TASK_TYPES = [
  'deconfliction_review',
  'verify_evidence',
  'le_signoff',
  'confirm_termination',
  'confirm_freeze',
  'confirm_removal',
  'resolve_exception',
] as const;
export type TaskType = (typeof TASK_TYPES)[number];
/** The tasks a partner org is asked by a formal request (a notice carrying a document); the others are internal. */
export const PARTNER_TASK_TYPES = ['confirm_termination', 'confirm_freeze', 'confirm_removal'] as const satisfies readonly TaskType[];
export type PartnerTaskType = (typeof PARTNER_TASK_TYPES)[number];

export const TASK_STATUSES = ['open', 'completed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const NOTICE_TYPES = ['termination_request', 'freeze_request', 'hosting_notice', 'withdrawal_notice', 'reminder'] as const;
export type NoticeType = (typeof NOTICE_TYPES)[number];
/** The notices that ask a partner to act on its task; reminders and withdrawal notices only point at such a request. */
export const REQUEST_NOTICE_TYPES = ['termination_request', 'freeze_request', 'hosting_notice'] as const satisfies readonly NoticeType[];

export const PARTNER_KINDS = ['card_scheme', 'acquirer', 'payment_provider', 'hosting_provider', 'fiu'] as const;
export type PartnerKind = (typeof PARTNER_KINDS)[number];

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const EVIDENCE_KINDS = ['test_transaction', 'screenshot_hash', 'page_capture_hash', 'hash_match', 'payment_trace', 'report', 'other'] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

/** Who did something. Temporal never tells workflow code who called, so every message carries this. */
export interface Actor {
  id: string;
  org: string;
  roles: Role[];
}

export interface CardChannel {
  kind: 'card';
  scheme: string;
  acquirer: string;
  merchantId: string;
  mcc?: string;
}
export interface WalletChannel {
  kind: 'wallet';
  provider: string;
  accountId: string;
}
export type PaymentChannel = CardChannel | WalletChannel;

export interface HostingEntry {
  provider: string;
  ip?: string;
  urls: string[];
}

export interface PrincipalOwner {
  name: string;
  role?: string;
  address?: string;
  nationalId?: string;
}

export interface Merchant {
  name: string;
  descriptor?: string;
  legalName?: string;
  address?: string;
  country?: string;
  phone?: string;
  taxIds?: string[];
  dateOpened?: string;
  principals?: PrincipalOwner[];
  urls: string[];
  paymentChannels: PaymentChannel[];
  hosting: HostingEntry[];
}

export interface Evidence {
  kind: EvidenceKind;
  sha256: string;
  description?: string;
  collectedAt?: string;
  collectedBy?: string;
}

export interface Slas {
  verification: string;
  signoff: string;
  termination: string;
  freeze: string;
  removal: string;
}

export interface Plan {
  freezeAssets: boolean;
  slas: Slas;
}

export interface CaseInput {
  reference: string;
  jurisdiction: string;
  priority: Priority;
  merchant: Merchant;
  evidence: Evidence[];
  plan: Plan;
}

export interface TaskAssignee {
  org: string;
  role: Role;
}

export interface Task {
  id: string;
  caseId: string;
  type: TaskType;
  status: TaskStatus;
  assignee: TaskAssignee;
  /** Roles that may act on the task: the assignee role, plus le_supervisor once a sign-off is escalated. */
  roles: Role[];
  createdAt: string;
  dueAt: string | null;
  escalated: boolean;
  completedAt: string | null;
  completedBy: { id: string; org: string } | null;
  outcome: string | null;
  data: Record<string, unknown> | null;
  comment: string | null;
  /** Context for the assignee: which channel, which exception, which notice. */
  context: Record<string, unknown>;
}

export interface Step {
  name: StepName;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  taskIds: string[];
}

export interface CaseView {
  id: string;
  reference: string;
  org: string;
  jurisdiction: string;
  priority: Priority;
  status: CaseStatus;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  closedAt: string | null;
  merchant: Merchant;
  evidence: Evidence[];
  plan: Plan;
  steps: Step[];
  deconflictedWith: string[];
  verifiedBy: string | null;
  signedOffBy: string | null;
  actionDate: string | null;
  withdrawal: { reason: string; by: string; at: string } | null;
}

export interface TaskCompletion {
  taskId: string;
  outcome: string;
  data?: Record<string, unknown>;
  comment?: string;
}

export interface AuditInput {
  /** Stable key: a retried write never appends twice. */
  key: string;
  action: string;
  actor: { id: string; org: string } | null;
  data: Record<string, unknown>;
  at?: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: { id: string; org: string } | null;
  action: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** The newest entry of a case's audit chain, as an auditor records it to anchor the chain outside Takedown. */
export interface ChainHead {
  caseId: string;
  seq: number;
  hash: string;
}

export interface Notice {
  id: string;
  type: NoticeType;
  caseId: string;
  taskId: string | null;
  org: string;
  document: Record<string, unknown>;
  sentAt: string;
}
