// Every update, signal and query of the case workflow; the API imports these definitions too.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Actor, CaseInput, CaseView, Evidence, HostingEntry, Task, TaskCompletion } from '../domain/types';

export const TASK_QUEUE = 'takedown';

export interface CaseWorkflowInput {
  caseId: string;
  org: string;
  createdBy: Actor;
  receivedAt: string;
  input: CaseInput;
}

export interface CompleteTaskArgs {
  completion: TaskCompletion;
  actor: Actor;
}

export interface WithdrawArgs {
  reason: string;
  actor: Actor;
}

export interface AddEvidenceArgs {
  evidence: Evidence[];
  urls: string[];
  /** Absent in updates sent before hosting entries could be amended. */
  hosting?: HostingEntry[];
  actor: Actor;
}

/**
 * Bounds on amendments, so that a case's payloads stay far below Temporal's (2 MB a payload) and its history below the
 * 50 MB at which Temporal ends a run: each amendment records its arguments and answers with the whole case, both at
 * most a case's size. A case grows to 1 MiB of JSON in UTF-8 (the largest body a creation may send), counted in bytes as
 * Temporal counts its payloads (text outside ASCII takes 2 to 4 bytes a character), through at most 20 amendments.
 */
export const MAX_CASE_JSON_BYTES = 1024 * 1024;
export const MAX_AMENDMENTS = 20;

/** Answers once the case is recorded in PostgreSQL (intake done), so a 201 is always readable at once. */
export const intakeUpdate = defineUpdate<CaseView, []>('intake');
/** Completes a human task; the validator enforces outcome, data, assignee and four-eyes rules. */
export const completeTaskUpdate = defineUpdate<Task, [CompleteTaskArgs]>('completeTask');
export const withdrawUpdate = defineUpdate<CaseView, [WithdrawArgs]>('withdraw');
export const addEvidenceUpdate = defineUpdate<CaseView, [AddEvidenceArgs]>('addEvidence');

export const caseQuery = defineQuery<CaseView>('case');
export const tasksQuery = defineQuery<Task[]>('tasks');
