// Temporal calls from the API: a deadline on every call, and the mapping of Temporal failures to problem kinds.
import {
  type Client,
  isGrpcServiceError,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure, NamespaceNotFoundError, TemporalFailure } from '@temporalio/common';
import { FAILURE_TYPES, ProblemError, type ProblemKind } from '../domain/errors';

/** No request waits longer than this on Temporal: a stopped server or worker gives a quick 503, never a hung request. */
export const TEMPORAL_DEADLINE_MS = 10_000;

/**
 * Runs `fn` under a gRPC deadline. The timer is a backstop for what the deadline does not cover (a lazy connection
 * still dialling): the caller gets its 503 on time even then.
 */
export async function withTemporalDeadline<R>(client: Client, fn: () => Promise<R>, ms = TEMPORAL_DEADLINE_MS): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProblemError('unavailable', 'Temporal did not answer in time; retry later')), ms + 1_000);
  });
  const call = client.withDeadline(Date.now() + ms, fn);
  call.catch(() => {});
  try {
    return await Promise.race([call, backstop]);
  } finally {
    clearTimeout(timer);
  }
}

// gRPC status codes (stable by spec); spelled out to avoid depending on @grpc/grpc-js directly.
const GRPC = { CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, UNAVAILABLE: 14 } as const;
const UNAVAILABLE_CODES = new Set<number>([GRPC.UNAVAILABLE, GRPC.DEADLINE_EXCEEDED, GRPC.CANCELLED, GRPC.RESOURCE_EXHAUSTED, GRPC.ABORTED, GRPC.UNKNOWN]);

function grpcCode(err: unknown): number | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    if (isGrpcServiceError(e)) return e.code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function fieldErrors(details: unknown): Record<string, string> | undefined {
  const first = Array.isArray(details) ? details[0] : undefined;
  if (!first || typeof first !== 'object' || Array.isArray(first)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first as Record<string, unknown>)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

/** The workflow is closed or was never started: updates to it cannot succeed any more. */
export function isWorkflowGone(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (!(err instanceof WorkflowUpdateFailedError) && grpcCode(err) === GRPC.NOT_FOUND);
}

/** Whether the workflow refused an update as naming a failure of this type (an ApplicationFailure's type). */
export function refusedAs(err: unknown, type: string): boolean {
  return err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === type;
}

/**
 * Whether Temporal no longer holds any run of the workflow (dropped once its namespace's retention passed), not merely a
 * closed one: a repeated update id can then be answered only from the projection.
 */
export async function runPurged(client: Client, workflowId: string): Promise<boolean> {
  try {
    await withTemporalDeadline(client, () => client.workflow.getHandle(workflowId).describe());
    return false;
  } catch (err) {
    if (isWorkflowGone(err)) return true;
    throw err;
  }
}

/** The problem a Temporal client error stands for; undefined when it is not a Temporal error. */
export function temporalProblem(err: unknown): { kind: ProblemKind; detail: string; errors?: Record<string, string> } | undefined {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type && Object.prototype.hasOwnProperty.call(FAILURE_TYPES, cause.type)) {
      const kind = FAILURE_TYPES[cause.type as keyof typeof FAILURE_TYPES];
      return { kind, detail: cause.message, errors: kind === 'validation' ? fieldErrors(cause.details) : undefined };
    }
    // The workflow refused the update for a reason it did not classify: the request, not the server, is at fault.
    const detail = cause instanceof TemporalFailure ? cause.message : err.message;
    return { kind: 'conflict', detail: `the case workflow refused the request: ${detail}` };
  }
  if (err instanceof WorkflowNotFoundError) return { kind: 'conflict', detail: 'the case is no longer running' };
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return { kind: 'unavailable', detail: 'Temporal did not answer in time; retry later' };
  if (err instanceof NamespaceNotFoundError) return { kind: 'unavailable', detail: 'the Temporal namespace is missing' };
  const code = grpcCode(err);
  if (code !== undefined || err instanceof ServiceError) {
    if (code === GRPC.NOT_FOUND) return { kind: 'conflict', detail: 'the case is no longer running' };
    // "Workflow Task in failed state": the case cannot take requests until its worker gets past the failure.
    if (code === GRPC.FAILED_PRECONDITION) return { kind: 'unavailable', detail: 'the case cannot take requests right now; retry later' };
    if (code === undefined || UNAVAILABLE_CODES.has(code)) return { kind: 'unavailable', detail: 'Temporal is unavailable; retry later' };
    return { kind: 'internal', detail: 'internal error' };
  }
  return undefined;
}
