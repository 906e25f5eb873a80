import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAgentExecutor, createFileSync, providerNotConfiguredMessage } from '../../src/engine/index.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { AgentInput, Store } from '../../src/store/types.js';
import { ExecutionAbortedError } from '../../src/worker/index.js';
import {
  type FakeModelServer,
  type FakeScript,
  scenarios,
  startFakeModelServer,
} from '../support/fake-model/index.js';
import { openTestStore, type RecordedEvent, testContext } from './support/context.js';
import { realSandbox, type SandboxDouble, sandboxDouble, tempDir, testConfig } from './support/doubles.js';

type Api = 'anthropic' | 'openai-compatible';

function providerEnv(api: Api, url: string): Record<string, string> {
  return api === 'anthropic'
    ? { ANTHROPIC_API_KEY: 'sk-ant-test-key', ANTHROPIC_BASE_URL: `${url}/v1` }
    : {
        OPENAI_COMPATIBLE_BASE_URL: `${url}/v1`,
        OPENAI_COMPATIBLE_API_KEY: 'compat-key',
        MODEL_NAME: 'llama3',
      };
}

// One migrated database for the file; every test has its own user and session in it.
let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store?.db.close());

// Each case runs against the platform's real sandbox and against a plain child-process double.
describe.each([
  ['real sandbox', realSandbox],
  ['child-process double', async (root: string) => sandboxDouble(root)],
])('agent executor (%s)', (_name, makeSandbox) => {
  let root: string;
  let sandbox: SandboxDouble;
  let fake: FakeModelServer | undefined;
  let userId: string;
  let sessionId: string;

  beforeEach(async () => {
    userId = (await store.users.create({ name: 'agent test' })).id;
    sessionId = (await store.sessions.create(userId, 'agent test')).id;
    root = await tempDir('ipa-agent-');
    sandbox = await makeSandbox(root);
  });
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    await sandbox.shutdown();
    await fs.rm(root, { recursive: true, force: true });
  });

  async function turn(args: {
    api?: Api;
    script: FakeScript;
    text?: string;
    env?: Record<string, string>;
    signal?: AbortSignal;
    onContext?: (context: Awaited<ReturnType<typeof testContext>>) => void;
  }) {
    fake = await startFakeModelServer(args.script);
    const config = testConfig({ ...providerEnv(args.api ?? 'anthropic', fake.url), ...args.env });
    const metrics = createMetrics('worker');
    const fileSync = createFileSync({ files: store.files, quotaBytes: 1e6, quotaFiles: 10_000 });
    const executor = createAgentExecutor({ orchestrator: sandbox, fileSync, metrics, retryBaseDelayMs: 5 });
    const text = args.text ?? 'please save hello';
    const message = await store.messages.append({ sessionId, role: 'user', parts: [{ type: 'text', text }] });
    const input: AgentInput = { messageId: message.id, text };
    const context = await testContext({
      execution: { kind: 'agent', input, userId, sessionId },
      store,
      config,
      signal: args.signal,
    });
    args.onContext?.(context);
    const started = performance.now();
    const outcome = await executor.run(context);
    const elapsedMs = performance.now() - started;
    // What the worker does with the changed files: stores them, then lets the sandbox go.
    const leasedUntilStored = sandbox.acquired - sandbox.released;
    if (outcome.files) await store.files.apply(userId, outcome.files, outcome.files.quotaBytes);
    outcome.files?.close(true);
    return {
      outcome,
      events: context.recorded,
      requests: fake.requests,
      metrics,
      elapsedMs,
      executionId: context.execution.id,
      leasedUntilStored,
    };
  }

  /** The session's messages the execution stored, oldest first. */
  const storedBy = async (executionId: string) =>
    (await store.messages.list(sessionId, { limit: 200 })).items.filter((m) => m.executionId === executionId);
  const types = (events: RecordedEvent[]) => events.map((e) => e.type);
  const deltas = (events: RecordedEvent[]) =>
    events
      .filter((e) => e.type === 'text.delta')
      .map((e) => e.data.text)
      .join('');

  for (const api of ['anthropic', 'openai-compatible'] as const) {
    it(`${api}: writes a file with a tool, reads it back in the next step, answers, and stores the turn`, async () => {
      const { outcome, events, requests, metrics, executionId, leasedUntilStored } = await turn({
        api,
        script: [
          {
            blocks: [
              { type: 'text', text: 'Saving your note. ' },
              {
                type: 'tool_call',
                name: 'write_file',
                input: { path: 'outputs/note.txt', content: 'hello there' },
              },
            ],
            usage: { inputTokens: 100, outputTokens: 20 },
          },
          {
            blocks: [{ type: 'tool_call', name: 'read_file', input: { path: 'outputs/note.txt' } }],
            usage: { inputTokens: 150, outputTokens: 10 },
          },
          {
            blocks: [{ type: 'text', text: 'The note says hello there.' }],
            usage: { inputTokens: 200, outputTokens: 8 },
          },
        ],
      });
      expect(outcome.status).toBe('succeeded');
      expect(outcome.usage).toEqual({ inputTokens: 450, outputTokens: 38 });
      expect(outcome.result).toMatchObject({ text: 'The note says hello there.', steps: 3 });
      expect(requests).toHaveLength(3);

      // Events stream in the order the model produced them.
      expect(types(events).filter((t) => t !== 'text.delta')).toEqual([
        'tool.call',
        'tool.result',
        'usage',
        'tool.call',
        'tool.result',
        'usage',
        'usage',
      ]);
      expect(deltas(events)).toBe('Saving your note. The note says hello there.');
      expect(events.findIndex((e) => e.type === 'text.delta')).toBe(0);
      const results = events.filter((e) => e.type === 'tool.result').map((e) => e.data);
      expect(results[0]).toMatchObject({
        toolName: 'write_file',
        isError: false,
        output: { path: 'outputs/note.txt' },
      });
      expect(results[1]).toMatchObject({
        toolName: 'read_file',
        isError: false,
        output: { content: 'hello there' },
      });
      expect(events.filter((e) => e.type === 'usage').at(-1)?.data).toEqual({
        inputTokens: 450,
        outputTokens: 38,
      });
      // The changed file goes to the worker with the sandbox still leased, to be stored with the
      // finished row (the worker announces it as file.changed then).
      expect(outcome.files?.changes).toEqual([{ path: 'outputs/note.txt', change: 'created', size: 11 }]);
      expect(leasedUntilStored).toBe(1);

      // The file was written in the sandbox and saved to the database.
      expect(sandbox.calls).toEqual(['write outputs/note.txt', 'read outputs/note.txt']);
      expect((await store.files.get(userId, 'outputs/note.txt'))?.content.toString()).toBe('hello there');

      // The second request carries the first tool result back to the model.
      expect(JSON.stringify(requests[1]?.body.messages)).toContain('outputs/note.txt');
      const toolNames = (
        (requests[0]?.body.tools ?? []) as { name?: string; function?: { name: string } }[]
      ).map((t) => t.name ?? t.function?.name);
      expect(toolNames).toEqual(['list_files', 'read_file', 'write_file', 'edit_file', 'run_code']);
      // run_code offers exactly the languages the sandbox runs at its isolation level.
      const runCode = JSON.stringify(
        ((requests[0]?.body.tools ?? []) as unknown[]).find((t) => JSON.stringify(t).includes('"run_code"')),
      );
      const offered = /"language":\{[^}]*"enum":(\[[^\]]*\])/.exec(runCode)?.[1];
      expect(JSON.parse(offered ?? '[]')).toEqual([...sandbox.languages]);

      // Stored: user, assistant(text+call), tool, assistant(call), tool, assistant(text).
      const stored = await storedBy(executionId);
      expect(stored.map((m) => m.role)).toEqual(['assistant', 'tool', 'assistant', 'tool', 'assistant']);
      expect(stored[0]?.parts.map((p) => p.type)).toEqual(['text', 'tool-call']);
      expect(stored[1]?.parts[0]).toMatchObject({ type: 'tool-result', toolName: 'write_file' });
      expect(stored[4]?.parts).toEqual([{ type: 'text', text: 'The note says hello there.' }]);

      const tokens = await metrics.modelTokens.get();
      const input = tokens.values.find((v) => v.labels.direction === 'input');
      expect(input?.value).toBe(450);
      expect(input?.labels.provider).toBe(api);
      expect(input?.labels.model).toBe(api === 'anthropic' ? 'claude-sonnet-4-5' : 'llama3');
    });
  }

  it('sends the provider key only to the provider and the session history as context', async () => {
    await store.messages.append({
      sessionId,
      role: 'user',
      parts: [{ type: 'text', text: 'earlier question' }],
    });
    await store.messages.append({
      sessionId,
      role: 'assistant',
      parts: [{ type: 'text', text: 'earlier answer' }],
    });
    const { outcome, requests } = await turn({
      script: [{ blocks: [{ type: 'text', text: 'ok' }] }],
      text: 'new question',
    });
    expect(outcome.status).toBe('succeeded');
    expect(requests[0]?.headers['x-api-key']).toBe('sk-ant-test-key');
    const messages = requests[0]?.body.messages as { role: string; content: unknown }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(messages)).toContain('earlier answer');
    expect(JSON.stringify(messages.at(-1))).toContain('new question');
    // A turn that only talks never takes the user's sandbox.
    expect(sandbox.acquired).toBe(0);
  });

  it('sends a long session only as its newest window (AGENT_HISTORY_MESSAGES)', async () => {
    for (let i = 0; i < 30; i++) {
      await store.messages.append({
        sessionId,
        role: i % 2 === 0 ? 'user' : 'assistant',
        parts: [{ type: 'text', text: `earlier ${i}` }],
      });
    }
    const { outcome, requests } = await turn({
      script: [{ blocks: [{ type: 'text', text: 'ok' }] }],
      text: 'new question',
      env: { AGENT_HISTORY_MESSAGES: '4' },
    });
    expect(outcome.status).toBe('succeeded');
    const messages = requests[0]?.body.messages as { role: string; content: unknown }[];
    // The newest 4 are "earlier 27..29" and the question; the window opens at the user message 28.
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(messages[0])).toContain('earlier 28');
    expect(JSON.stringify(messages)).not.toContain('earlier 27');
    expect(JSON.stringify(messages.at(-1))).toContain('new question');
  });

  it('runs code in the sandbox with run_code and streams its output', async () => {
    const { outcome, events } = await turn({
      script: [
        {
          blocks: [
            {
              type: 'tool_call',
              name: 'run_code',
              input: { language: 'javascript', code: 'console.log(6*7)' },
            },
          ],
        },
        { blocks: [{ type: 'text', text: 'It printed 42.' }] },
      ],
    });
    expect(outcome.status).toBe('succeeded');
    expect(events.find((e) => e.type === 'output')?.data).toEqual({ stream: 'stdout', data: '42\n' });
    expect(events.find((e) => e.type === 'tool.result')?.data.output).toMatchObject({
      exitCode: 0,
      stdout: '42\n',
    });
  });

  it('returns malformed tool arguments to the model as a tool error and the turn continues', async () => {
    const { outcome, events, requests } = await turn({
      script: [
        {
          blocks: [{ type: 'tool_call', name: 'write_file', input: '{"path": "outputs/x.txt", "content": ' }],
        },
        { blocks: [{ type: 'tool_call', name: 'write_file', input: { path: 'outputs/x.txt' } }] },
        { blocks: [{ type: 'text', text: 'Sorry, I could not write it.' }] },
      ],
    });
    expect(outcome.status).toBe('succeeded');
    const results = events.filter((e) => e.type === 'tool.result').map((e) => e.data);
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ toolName: 'write_file', isError: true });
    expect(String(results[0]?.output)).toMatch(/JSON|parse|input/i);
    expect(results[1]).toMatchObject({ isError: true });
    expect(String(results[1]?.output)).toMatch(/content/);
    expect(requests).toHaveLength(3);
    expect(JSON.stringify(requests[1]?.body.messages)).toContain('"is_error":true');
    expect(sandbox.calls).toEqual([]);
  });

  it('reports a tool failure from the sandbox to the model', async () => {
    const { outcome, events, requests } = await turn({
      script: [
        { blocks: [{ type: 'tool_call', name: 'read_file', input: { path: 'uploads/missing.txt' } }] },
        { blocks: [{ type: 'text', text: 'That file does not exist.' }] },
      ],
    });
    expect(outcome.status).toBe('succeeded');
    const result = events.find((e) => e.type === 'tool.result')?.data;
    expect(result).toMatchObject({ isError: true });
    expect(String(result?.output)).toMatch(/missing\.txt/);
    expect(JSON.stringify(requests[1]?.body.messages)).toContain('missing.txt');
  });

  it('fails at once with provider_auth on 401 and does not retry', async () => {
    const { outcome, requests } = await turn({
      script: [{ kind: 'error', status: 401, message: 'invalid x-api-key' }],
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('provider_auth');
    expect(outcome.error?.message).toMatch(/HTTP 401.*invalid x-api-key.*API key/);
    expect(requests).toHaveLength(1);
  });

  it('retries a 429 and a 503 with backoff, then succeeds', async () => {
    const { outcome, requests } = await turn({
      api: 'openai-compatible',
      script: [
        { kind: 'error', status: 429, message: 'slow down' },
        { kind: 'error', status: 503, message: 'overloaded' },
        { blocks: [{ type: 'text', text: 'finally' }] },
      ],
    });
    expect(outcome.status).toBe('succeeded');
    expect(requests).toHaveLength(3);
    // Backoff: the retries are spaced, not immediate.
    const gap = (requests[2]?.receivedAt ?? 0) - (requests[0]?.receivedAt ?? 0);
    expect(gap).toBeGreaterThanOrEqual(5);
  });

  it('gives up on rate limits after MODEL_MAX_RETRIES with a clear error', async () => {
    const { outcome, requests } = await turn({
      env: { MODEL_MAX_RETRIES: '2' },
      script: () => ({ kind: 'error', status: 429, message: 'rate limited' }),
    });
    expect(outcome.error?.code).toBe('provider_rate_limited');
    expect(requests).toHaveLength(3);
  });

  it('stops at the step limit', async () => {
    const { outcome, requests } = await turn({
      env: { AGENT_MAX_STEPS: '2' },
      script: () => ({ blocks: [{ type: 'tool_call', name: 'list_files', input: {} }] }),
    });
    expect(requests).toHaveLength(2);
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('step_limit_reached');
  });

  it('stops and fails when the token budget is passed', async () => {
    const { outcome, requests, events } = await turn({
      env: { AGENT_MAX_TOKENS: '100' },
      script: () => ({
        blocks: [{ type: 'tool_call', name: 'list_files', input: {} }],
        usage: { inputTokens: 90, outputTokens: 30 },
      }),
    });
    expect(requests).toHaveLength(1);
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('token_budget_exceeded');
    expect(outcome.usage).toEqual({ inputTokens: 90, outputTokens: 30 });
    expect(events.find((e) => e.type === 'usage')?.data).toEqual({ inputTokens: 90, outputTokens: 30 });
  });

  it('is cancelled within 1 s while the model streams, aborting the stream', async () => {
    const controller = new AbortController();
    let cancelledAt = 0;
    const running = turn({
      signal: controller.signal,
      script: [{ blocks: [{ type: 'text', text: 'word '.repeat(200), chunkSize: 5 }], chunkDelayMs: 50 }],
      onContext: (context) => {
        const emit = context.emit;
        context.emit = async (type, data) => {
          await emit(type, data);
          if (type === 'text.delta' && !controller.signal.aborted) {
            cancelledAt = performance.now();
            controller.abort(new ExecutionAbortedError('cancelled'));
          }
        };
      },
    });
    const { outcome, events, executionId } = await running;
    expect(outcome.status).toBe('cancelled');
    expect(performance.now() - cancelledAt).toBeLessThan(1000);
    expect(events.filter((e) => e.type === 'text.delta').length).toBeLessThan(5);
    expect(sandbox.released).toBe(sandbox.acquired);
    // The partial text is kept in the session so the conversation shows what the user saw.
    const stored = await storedBy(executionId);
    expect(stored.map((m) => m.role)).toEqual(['assistant']);
  });

  it('ends timed_out when the turn passes its wall-clock limit', async () => {
    const { outcome, elapsedMs } = await turn({
      env: { AGENT_TIMEOUT_SECONDS: '1' },
      script: () => ({
        blocks: [{ type: 'text', text: 'slow '.repeat(100), chunkSize: 5 }],
        chunkDelayMs: 100,
      }),
    });
    expect(outcome.status).toBe('timed_out');
    expect(outcome.error?.code).toBe('agent_timeout');
    expect(elapsedMs).toBeLessThan(3000);
  });

  it('fails at once naming the variables to set when no provider is configured', async () => {
    const config = testConfig();
    const fileSync = createFileSync({ files: store.files, quotaBytes: 1e6, quotaFiles: 10_000 });
    const executor = createAgentExecutor({ orchestrator: sandbox, fileSync });
    const context = await testContext({
      execution: { kind: 'agent', input: { messageId: randomUUID(), text: 'hi' }, sessionId, userId },
      store,
      config,
    });
    const outcome = await executor.run(context);
    expect(outcome).toEqual({
      status: 'failed',
      error: { code: 'provider_not_configured', message: providerNotConfiguredMessage },
    });
    for (const name of [
      'ANTHROPIC_API_KEY',
      'OPENAI_API_KEY',
      'AZURE_OPENAI_API_KEY',
      'OPENAI_COMPATIBLE_BASE_URL',
    ])
      expect(outcome.error?.message).toContain(name);
    expect(sandbox.acquired).toBe(0);
  });

  it('names the missing variable when MODEL_PROVIDER is set without its key', async () => {
    const config = testConfig({ MODEL_PROVIDER: 'azure', AZURE_OPENAI_API_KEY: 'k' });
    const fileSync = createFileSync({ files: store.files, quotaBytes: 1e6, quotaFiles: 10_000 });
    const executor = createAgentExecutor({ orchestrator: sandbox, fileSync });
    const context = await testContext({
      execution: { kind: 'agent', input: { messageId: randomUUID(), text: 'hi' }, sessionId, userId },
      store,
      config,
    });
    const outcome = await executor.run(context);
    expect(outcome.error?.message).toMatch(/AZURE_OPENAI_RESOURCE/);
  });

  it('talks to Azure OpenAI and OpenAI through the same chat protocol', async () => {
    for (const env of [
      (url: string) => ({
        AZURE_OPENAI_API_KEY: 'az-key',
        AZURE_OPENAI_BASE_URL: `${url}/openai`,
        MODEL_NAME: 'my-deployment',
      }),
      (url: string) => ({ OPENAI_API_KEY: 'oa-key', OPENAI_BASE_URL: `${url}/v1` }),
    ]) {
      const server = await startFakeModelServer([{ blocks: [{ type: 'text', text: 'hi from chat' }] }]);
      const config = testConfig(env(server.url));
      const fileSync = createFileSync({ files: store.files, quotaBytes: 1e6, quotaFiles: 10_000 });
      const executor = createAgentExecutor({ orchestrator: sandbox, fileSync });
      const context = await testContext({
        execution: { kind: 'agent', input: { messageId: randomUUID(), text: 'hi' }, sessionId, userId },
        store,
        config,
      });
      const outcome = await executor.run(context);
      await server.close();
      expect(outcome.status).toBe('succeeded');
      expect(deltas(context.recorded)).toBe('hi from chat');
      expect(server.requests[0]?.path).toMatch(/\/chat\/completions$/);
    }
  });

  it('serves the named scenarios of the fake model server (used by the web app and reliability tests)', async () => {
    const echo = await turn({ script: scenarios['echo-with-tool']?.script ?? [], text: 'remember the milk' });
    expect(echo.outcome.status).toBe('succeeded');
    expect((await store.files.get(userId, 'outputs/echo.txt'))?.content.toString()).toBe('remember the milk');
    expect(deltas(echo.events)).toContain('You said: remember the milk');
    await fake?.close();

    const both = await turn({
      api: 'openai-compatible',
      script: scenarios['write-then-read']?.script ?? [],
      text: 'pack the tent',
    });
    expect(both.requests).toHaveLength(3);
    expect(deltas(both.events)).toContain('pack the tent');
  });
});
