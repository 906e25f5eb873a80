import { type ModelMessage, type StopCondition, stepCountIs, streamText, type ToolSet } from 'ai';
import { requestThroughProxy } from '../../egress/request.js';
import type { Egress } from '../../egress/service.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { SandboxLease, SandboxOrchestrator } from '../../sandbox/types.js';
import type { AgentInput, MessagePart, TokenUsage } from '../../store/types.js';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../../worker/executor.js';
import type { FileSync } from '../../worker/file-sync.js';
import { abortOutcome, collectFiles, failed, sandboxFailure } from '../common.js';
import { loadTurnHistory, toModelMessages } from './history.js';
import { errorText, providerFailure } from './provider-errors.js';
import { type ProviderName, resolveModel } from './providers.js';
import { retryingFetch } from './retry.js';
import { createTools, type ToolEnvironment } from './tools.js';

export interface AgentExecutorOptions {
  orchestrator: SandboxOrchestrator;
  /** Egress of the turn's code and `http_request` calls; without it the agent has no network. */
  egress?: Egress;
  fileSync: FileSync;
  metrics?: Metrics;
  logger?: Logger;
  /** First retry delay for rate limits and 5xx (doubled per retry, with jitter). */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Largest text one tool call hands back to the model. */
  maxToolResultChars?: number;
  /** Replaces the global fetch under the retry layer (tests observe requests with it). */
  fetch?: typeof fetch;
}

function egressOf(
  egress: Egress | undefined,
  execution: { id: string; userId: string },
  maxBodyChars: number,
): ToolEnvironment['egress'] {
  if (!egress) return undefined;
  const context = egress.contextFor(execution);
  return {
    context,
    request: (request, signal) =>
      requestThroughProxy(egress.proxy, context, request, { maxBodyChars, signal }),
  };
}

const systemPrompt = `You are the agent of the IPA Platform. You work for one user inside their private sandbox.
Their files live in three folders: uploads/ (files the user uploaded), workspace/ (your scratch space,
the working directory of programs you run) and outputs/ (results meant for the user).
Use the tools to look at, create and change files and to run code; paths are relative and start with
one of the three folders. Be brief and say what you did.`;

/** Why the turn stopped before the model finished, when the reason was ours. */
type StopReason = 'token_budget' | 'wall_clock' | null;

export function createAgentExecutor(options: AgentExecutorOptions): Executor {
  const { orchestrator, fileSync, metrics, logger } = options;

  return {
    kind: 'agent',
    async run(context: ExecutionContext): Promise<ExecutionOutcome> {
      const { execution, config, store, signal } = context;
      const log = logger?.child({ executionId: execution.id, kind: 'agent' });
      const input = execution.input as Partial<AgentInput>;
      if (!execution.sessionId || typeof input?.text !== 'string') {
        return failed('invalid_input', 'an agent execution needs a session and the text of the user message');
      }
      const fetchWithRetry = retryingFetch(
        {
          maxRetries: config.model.maxRetries,
          baseDelayMs: options.retryBaseDelayMs ?? 1000,
          maxDelayMs: options.retryMaxDelayMs ?? 30_000,
          onRetry: (info) => log?.warn(info, 'model request failed; retrying'),
        },
        options.fetch ?? fetch,
      );
      const resolved = resolveModel(config.model, fetchWithRetry);
      if ('error' in resolved) return failed('provider_not_configured', resolved.error);

      // The sandbox is taken at the first tool call, not before: a turn that only talks never
      // waits for it, and the model's first words are not delayed by it. Once taken, it is held
      // to the end of the turn, and then handed over with the turn's file changes until the worker
      // has stored them.
      let sandbox: Promise<SandboxLease> | undefined;
      let leaseHandedOver = false;
      const lease = () => {
        sandbox ??= (async () => {
          const taken = await orchestrator.acquire(execution.userId, { signal });
          try {
            await fileSync.prepare(taken, { signal });
            return taken;
          } catch (error) {
            taken.release();
            throw error;
          }
        })();
        return sandbox;
      };
      try {
        const history = await loadTurnHistory(
          store.messages,
          execution.sessionId,
          input.messageId,
          config.model.history,
        );
        const messages = toModelMessages(history);
        // A turn whose message the store does not hold (yet) still asks the user's question.
        if (history.at(-1)?.id !== input.messageId) messages.push({ role: 'user', content: input.text });

        const turn = await runModelLoop({
          context,
          resolved,
          messages,
          tools: createTools({
            lease,
            languages: orchestrator.languages,
            runTimeoutMs: Math.min(config.executions.timeoutMs, config.model.timeoutMs),
            maxResultChars: options.maxToolResultChars ?? 100_000,
            onOutput: (stream, data) => {
              void context.emit('output', { stream, data }).catch(() => undefined);
            },
            egress: egressOf(options.egress, execution, options.maxToolResultChars ?? 100_000),
          }),
          metrics,
        });
        if (turn.abortedByCaller) return abortOutcome(signal);
        // What the turn changed in the sandbox is kept whenever the model loop ran to an end of
        // its own (also on a limit or provider error): tool calls already happened.
        const taken = sandbox ? await sandbox.catch(() => undefined) : undefined;
        if (!taken) return turn.outcome;
        const files = await collectFiles(fileSync, taken);
        leaseHandedOver = true;
        return { ...turn.outcome, files };
      } catch (error) {
        if (signal.aborted) return abortOutcome(signal);
        return sandboxFailure(error) ?? failed('internal', `agent turn failed: ${(error as Error).message}`);
      } finally {
        const taken = sandbox ? await sandbox.catch(() => undefined) : undefined;
        if (!leaseHandedOver) taken?.release();
      }
    },
  };
}

interface LoopResult {
  outcome: ExecutionOutcome;
  /** The caller's signal (cancel, timeout, shutdown) ended the loop. */
  abortedByCaller: boolean;
}

async function runModelLoop(args: {
  context: ExecutionContext;
  resolved: { provider: ProviderName; modelName: string; model: import('ai').LanguageModel };
  messages: ModelMessage[];
  tools: ToolSet;
  metrics: Metrics | undefined;
}): Promise<LoopResult> {
  const { context, resolved, messages, tools, metrics } = args;
  const { config, execution, store, signal } = context;
  const limits = config.model;
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  let stopReason: StopReason = null;

  const wallClock = new AbortController();
  const timer = setTimeout(() => {
    stopReason = 'wall_clock';
    wallClock.abort(new Error('agent turn time limit'));
  }, limits.timeoutMs);
  const abortSignal = AbortSignal.any([signal, wallClock.signal]);

  // Judged from the SDK's own step records: the stream consumer below may lag behind the loop.
  const overBudget: StopCondition<ToolSet> = ({ steps }) => {
    const used = steps.reduce(
      (sum, step) => sum + (step.usage.inputTokens ?? 0) + (step.usage.outputTokens ?? 0),
      0,
    );
    if (used <= limits.maxTokens) return false;
    stopReason = 'token_budget';
    return true;
  };

  // The step being streamed: assistant parts and the tool results that answer them.
  let assistantParts: MessagePart[] = [];
  let toolParts: MessagePart[] = [];
  let steps = 0;
  let lastFinishReason = '';
  let finalText = '';
  let stepText = '';
  let providerError: unknown;

  const appendText = (text: string) => {
    const last = assistantParts.at(-1);
    if (last?.type === 'text') last.text += text;
    else assistantParts.push({ type: 'text', text });
  };
  const storeStep = async (complete: boolean) => {
    // A step cut short keeps its text; its tool calls without results would be refused by the
    // provider in the next turn's context, so they are dropped.
    const answered = new Set(toolParts.map((p) => (p.type === 'tool-result' ? p.toolCallId : '')));
    const parts = complete
      ? assistantParts
      : assistantParts.filter(
          (p) => p.type === 'text' || (p.type === 'tool-call' && answered.has(p.toolCallId)),
        );
    const sessionId = execution.sessionId as string;
    if (parts.length > 0)
      await store.messages.append({ sessionId, executionId: execution.id, role: 'assistant', parts });
    if (toolParts.length > 0 && parts.some((p) => p.type === 'tool-call'))
      await store.messages.append({ sessionId, executionId: execution.id, role: 'tool', parts: toolParts });
    assistantParts = [];
    toolParts = [];
  };

  try {
    const result = streamText({
      model: resolved.model,
      system: systemPrompt,
      messages,
      tools,
      stopWhen: [stepCountIs(limits.maxSteps), overBudget],
      // Retries happen in the provider's fetch (retry.ts), where 429 and 5xx are told apart.
      maxRetries: 0,
      abortSignal,
      onError: () => {},
    });
    for await (const part of result.fullStream) {
      switch (part.type) {
        case 'text-delta':
          if (!part.text) break;
          appendText(part.text);
          stepText += part.text;
          await context.emit('text.delta', { text: part.text });
          break;
        case 'tool-call':
          assistantParts.push({
            type: 'tool-call',
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            input: part.input,
          });
          await context.emit('tool.call', {
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            input: part.input ?? null,
          });
          break;
        case 'tool-result':
          toolParts.push({
            type: 'tool-result',
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            output: part.output,
          });
          await context.emit('tool.result', {
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            output: part.output ?? null,
            isError: false,
          });
          break;
        case 'tool-error': {
          const message = errorText(part.error);
          toolParts.push({
            type: 'tool-result',
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            output: message,
            isError: true,
          });
          await context.emit('tool.result', {
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            output: message,
            isError: true,
          });
          break;
        }
        case 'finish-step': {
          steps++;
          lastFinishReason = part.finishReason;
          const input = part.usage.inputTokens ?? 0;
          const output = part.usage.outputTokens ?? 0;
          usage.inputTokens += input;
          usage.outputTokens += output;
          const labels = { provider: resolved.provider, model: resolved.modelName };
          metrics?.modelTokens.inc({ ...labels, direction: 'input' }, input);
          metrics?.modelTokens.inc({ ...labels, direction: 'output' }, output);
          await context.emit('usage', { ...usage });
          await storeStep(true);
          finalText = stepText || finalText;
          stepText = '';
          break;
        }
        case 'error':
          providerError = part.error;
          break;
        default:
          break;
      }
      if (providerError) break;
    }
  } catch (error) {
    if (!abortSignal.aborted) providerError = error;
  } finally {
    clearTimeout(timer);
  }
  await storeStep(false);

  if (signal.aborted) return { outcome: { status: 'cancelled' }, abortedByCaller: true };
  if (stopReason === 'wall_clock') {
    return {
      outcome: {
        status: 'timed_out',
        error: {
          code: 'agent_timeout',
          message: `the agent turn ran longer than ${limits.timeoutMs / 1000} s`,
        },
        usage,
      },
      abortedByCaller: false,
    };
  }
  if (providerError) {
    return {
      outcome: { status: 'failed', error: providerFailure(providerError), usage },
      abortedByCaller: false,
    };
  }
  if (stopReason === 'token_budget') {
    return {
      outcome: {
        status: 'failed',
        error: {
          code: 'token_budget_exceeded',
          message: `the turn used ${usage.inputTokens + usage.outputTokens} tokens, over its budget of ${limits.maxTokens} (AGENT_MAX_TOKENS)`,
        },
        usage,
      },
      abortedByCaller: false,
    };
  }
  if (lastFinishReason === 'tool-calls' && steps >= limits.maxSteps) {
    return {
      outcome: {
        status: 'failed',
        error: {
          code: 'step_limit_reached',
          message: `the model was still calling tools after ${steps} steps, the limit of one turn (AGENT_MAX_STEPS)`,
        },
        usage,
      },
      abortedByCaller: false,
    };
  }
  return {
    outcome: {
      status: 'succeeded',
      result: { text: finalText, steps, finishReason: lastFinishReason },
      usage,
    },
    abortedByCaller: false,
  };
}
