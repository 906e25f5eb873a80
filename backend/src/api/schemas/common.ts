import { z } from 'zod';
import { eventTypes } from '../../events/types.js';
import { scriptLanguages } from '../../lib/vocabulary.js';

/**
 * Shapes shared by several resources. Records mirror `store/types.ts`; each carries an OpenAPI id
 * so the served description names them once and refers to them everywhere.
 */

/** Every id in a path is a UUID; anything else is answered 400 `validation_failed`. */
export const id = z.uuid();
export const idParams = z.strictObject({ id });

export const timestamp = z.string().describe('ISO-8601 timestamp');

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size (default 50, at most 200).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` of the previous page.'),
};

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('snake_case, stable; e.g. validation_failed, not_found'),
      message: z.string().describe('A sentence for people.'),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });

/** The error answers a route documents, all with the one error shape. */
export function errors(...statuses: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorSchema]));
}

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const userSchema = z
  .object({ id: z.string(), name: z.string(), isAdmin: z.boolean(), createdAt: timestamp })
  .meta({ id: 'User' });

export const tokenInfoSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    name: z.string(),
    prefix: z.string().describe('First characters of the token, safe to show.'),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
    expiresAt: timestamp.nullable().describe('When the token stops working by itself; null: never.'),
    kind: z
      .enum(['api', 'signin'])
      .describe('api: an API token; signin: a browser sign-in (session cookie).'),
    device: z.string().nullable().describe('For a sign-in, the browser and system it came from.'),
  })
  .meta({ id: 'ApiTokenInfo' });

export const sessionSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    title: z.string(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Session' });

const messagePart = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({
    type: z.literal('tool-call'),
    toolCallId: z.string(),
    toolName: z.string(),
    input: z.unknown(),
  }),
  z.object({
    type: z.literal('tool-result'),
    toolCallId: z.string(),
    toolName: z.string(),
    output: z.unknown(),
    isError: z.boolean().optional(),
  }),
]);

export const messageSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    executionId: z.string().nullable(),
    role: z.enum(['user', 'assistant', 'tool']),
    parts: z.array(messagePart),
    createdAt: timestamp,
  })
  .meta({ id: 'Message' });

export { scriptLanguages };
export const executionStatuses = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'skipped',
] as const;
export const runTriggers = ['manual', 'api', 'schedule', 'webhook'] as const;
export const executionKinds = ['script', 'agent'] as const;

export const executionSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    sessionId: z.string().nullable(),
    kind: z.enum(executionKinds),
    status: z.enum(executionStatuses),
    input: z.union([
      z.object({ language: z.enum(scriptLanguages), code: z.string(), input: z.unknown().optional() }),
      z.object({ messageId: z.string(), text: z.string() }),
    ]),
    result: z.unknown(),
    error: z
      .object({
        code: z.string(),
        message: z.string(),
        line: z.number().int().optional().describe("A script error's line in the submitted code (1-based)."),
        column: z.number().int().optional().describe('Its column (1-based), when known.'),
      })
      .nullable(),
    usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }).nullable(),
    attempt: z.number().int(),
    workerId: z.string().nullable(),
    cancelRequested: z.boolean(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    durationMs: z.number().nullable(),
    automationId: z
      .string()
      .nullable()
      .describe('The automation this run ran (null: ad-hoc script, agent turn).'),
    automationVersion: z.number().int().nullable(),
    trigger: z.enum(runTriggers).nullable(),
    triggerId: z.string().nullable().describe('The schedule or webhook trigger that started it.'),
    scheduledFor: timestamp.nullable().describe('The schedule tick this run belongs to.'),
  })
  .meta({ id: 'Execution' });

export const storedFileSchema = z
  .object({
    userId: z.string(),
    path: z.string().describe('Relative to the user root: uploads/…, workspace/… or outputs/….'),
    size: z.number().int(),
    sha256: z.string(),
    updatedAt: timestamp,
  })
  .meta({ id: 'StoredFile' });

export const auditEntrySchema = z
  .object({
    id: z.string(),
    actorId: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    at: timestamp,
  })
  .meta({ id: 'AuditEntry' });

export const queueCountsSchema = z
  .object({
    waiting: z.number(),
    active: z.number(),
    delayed: z.number(),
    failed: z.number(),
    completed: z.number(),
  })
  .meta({ id: 'QueueCounts' });

export const workerHeartbeatSchema = z
  .object({
    workerId: z.string(),
    hostname: z.string(),
    pid: z.number(),
    startedAt: timestamp,
    at: timestamp,
    isolation: z.enum(['bwrap', 'process']),
    languages: z.array(z.enum(scriptLanguages)).optional(),
    concurrency: z.number(),
    running: z.number(),
    draining: z.boolean(),
    pool: z.record(z.string(), z.number()),
  })
  .meta({ id: 'WorkerHeartbeat' });

export const eventTypeSchema = z.enum(eventTypes);
