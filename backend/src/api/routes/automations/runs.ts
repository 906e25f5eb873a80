import type { FastifyInstance } from 'fastify';
import { prepareInput } from '../../../automations/input.js';
import type { Automation, Execution, RunOrigin } from '../../../store/types.js';
import { ApiError, notFound } from '../../errors.js';

/**
 * Queues a run of an automation (its current version, or `version`): the input is checked against
 * that version's schema, defaults filled in, before anything is written or queued.
 */
export async function queueAutomationRun(
  app: FastifyInstance,
  args: {
    automation: Automation;
    version?: number;
    input: unknown;
    trigger: RunOrigin['trigger'];
    triggerId?: string;
    inputPath?: string;
  },
): Promise<Execution> {
  const { store } = app.services;
  const { automation } = args;
  const content =
    args.version === undefined || args.version === automation.version
      ? automation
      : await store.automations.version(automation.userId, automation.id, args.version);
  if (!content) throw notFound(`Version ${args.version} of the automation`);
  const prepared = prepareInput(content.inputSchema, args.input, args.inputPath);
  if (!prepared.ok) {
    const [first] = prepared.problems;
    throw new ApiError(
      400,
      'validation_failed',
      `The input does not match the automation's schema: ${first?.path}: ${first?.message}`,
      prepared.problems,
    );
  }
  const version = 'version' in content ? content.version : automation.version;
  const { execution } = await app.submitExecution(automation.userId, async (_tx, admit) => ({
    execution: await admit({
      userId: automation.userId,
      kind: 'script',
      input:
        prepared.input === undefined
          ? { language: content.language, code: content.code }
          : { language: content.language, code: content.code, input: prepared.input },
      origin: {
        automationId: automation.id,
        automationVersion: version,
        trigger: args.trigger,
        triggerId: args.triggerId ?? null,
      },
    }),
    extra: null,
  }));
  return execution;
}
