import { toIso, toIsoOrNull, toNumberOrNull } from '../sql.js';
import type {
  AgentInput,
  Execution,
  ExecutionError,
  ExecutionKind,
  ExecutionStatus,
  RunTrigger,
  ScriptInput,
  TokenUsage,
} from '../types.js';

/** The executions table's row as the drivers return it, and its conversion to the record. */
export interface ExecutionRow {
  id: string;
  user_id: string;
  session_id: string | null;
  kind: ExecutionKind;
  status: ExecutionStatus;
  input: ScriptInput | AgentInput;
  result: unknown;
  error: ExecutionError | null;
  usage: TokenUsage | null;
  attempt: number;
  worker_id: string | null;
  cancel_requested: boolean;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: string | number | null;
  automation_id: string | null;
  automation_version: number | null;
  trigger: RunTrigger | null;
  trigger_id: string | null;
  scheduled_for: Date | null;
}

export const executionColumns =
  'id, user_id, session_id, kind, status, input, result, error, usage, attempt, worker_id, cancel_requested, created_at, started_at, finished_at, duration_ms, automation_id, automation_version, trigger, trigger_id, scheduled_for';
export const qualifiedExecutionColumns = executionColumns
  .split(', ')
  .map((column) => `e.${column}`)
  .join(', ');
export function toExecution(row: ExecutionRow): Execution {
  return {
    id: row.id,
    userId: row.user_id,
    sessionId: row.session_id,
    kind: row.kind,
    status: row.status,
    input: row.input,
    result: row.result ?? null,
    error: row.error ?? null,
    usage: row.usage ?? null,
    attempt: row.attempt,
    workerId: row.worker_id,
    cancelRequested: row.cancel_requested,
    createdAt: toIso(row.created_at),
    startedAt: toIsoOrNull(row.started_at),
    finishedAt: toIsoOrNull(row.finished_at),
    durationMs: toNumberOrNull(row.duration_ms),
    automationId: row.automation_id,
    automationVersion: row.automation_version,
    trigger: row.trigger,
    triggerId: row.trigger_id,
    scheduledFor: toIsoOrNull(row.scheduled_for),
  };
}
