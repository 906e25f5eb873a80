import { z } from 'zod';
import { executionStatuses, scriptLanguages, timestamp } from '../../schemas/common.js';
import { maxCodeBytes, maxInputBytes } from '../executions/index.js';

/** Shapes of the automation routes; records mirror `store/automation-types.ts`. */

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '');

export const code = z
  .string()
  .min(1)
  .refine((text) => Buffer.byteLength(text, 'utf8') <= maxCodeBytes, {
    message: `must be at most ${maxCodeBytes} bytes`,
  });

export const inputValue = z
  .unknown()
  .optional()
  .refine((value) => value === undefined || jsonBytes(value) <= maxInputBytes, {
    message: `must be at most ${maxInputBytes} bytes as JSON`,
  })
  .describe('Any JSON value; checked against the automation’s input schema, defaults filled in.');

export const inputSchemaField = z
  .record(z.string(), z.unknown())
  .nullable()
  .optional()
  .refine((value) => value == null || jsonBytes(value) <= 64 * 1024, {
    message: 'must be at most 64 KiB as JSON',
  })
  .describe('A JSON Schema for the run input (null: any input).');

export const name = z.string().min(1).max(200);
export const description = z.string().max(2000);

export const automationSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    name: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    version: z.number().int().describe('The current (newest) version.'),
    language: z.enum(scriptLanguages),
    code: z.string(),
    inputSchema: z.record(z.string(), z.unknown()).nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Automation' });

export const automationSummarySchema = automationSchema
  .extend({
    lastRun: z.object({ id: z.string(), status: z.enum(executionStatuses), createdAt: timestamp }).nullable(),
    nextFireAt: timestamp.nullable().describe('Earliest next tick of its enabled schedules.'),
  })
  .meta({ id: 'AutomationSummary' });

export const versionSchema = z
  .object({
    automationId: z.string(),
    version: z.number().int(),
    language: z.enum(scriptLanguages),
    code: z.string(),
    inputSchema: z.record(z.string(), z.unknown()).nullable(),
    authorId: z.string().nullable(),
    createdAt: timestamp,
  })
  .meta({ id: 'AutomationVersion' });

export const scheduleSchema = z
  .object({
    id: z.string(),
    automationId: z.string(),
    cron: z.string(),
    timeZone: z.string(),
    input: z.unknown(),
    enabled: z.boolean(),
    overlap: z.enum(['skip', 'allow']),
    catchUp: z.enum(['skip', 'once']),
    nextFireAt: timestamp.nullable(),
    nextFireTimes: z.array(timestamp).describe('The next 5 ticks (empty while disabled).'),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Schedule' });

export const webhookTriggerSchema = z
  .object({
    id: z.string(),
    automationId: z.string(),
    name: z.string(),
    enabled: z.boolean(),
    path: z.string().describe('Where to POST deliveries, relative to the platform’s address.'),
    createdAt: timestamp,
    rotatedAt: timestamp.nullable(),
  })
  .meta({ id: 'WebhookTrigger' });

export const webhookSecretSchema = z
  .object({
    trigger: webhookTriggerSchema,
    secret: z.string().describe('Shown this once: sign deliveries with it.'),
  })
  .meta({ id: 'WebhookTriggerWithSecret' });
