import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Execution, Message } from '../../src/store/types.js';
import {
  endsWithToolResult,
  type FakeModelServer,
  type FakeTurn,
  lastToolResultText,
  lastUserText,
  type RecordedRequest,
  startFakeModelServer,
} from '../support/fake-model/index.js';
import {
  ApiClient,
  type SseEvent,
  startTestPlatform,
  type TestPlatform,
  terminalOf,
} from './support/platform.js';

/**
 * The whole path: HTTP API → BullMQ → worker runtime → engine → sandbox → Redis event stream →
 * SSE, with the real Anthropic client talking to the fake model server, and two worker replicas
 * sharing one PostgreSQL and one Redis.
 */

/** `save <path> <text>` writes a file; `read <path>` reads one; after a tool result, it answers with it. */
function fileScenario(request: RecordedRequest): FakeTurn {
  if (endsWithToolResult(request))
    return { blocks: [{ type: 'text', text: `Done: ${lastToolResultText(request)}` }] };
  const text = lastUserText(request);
  const [verb, file, ...rest] = text.split(' ');
  if (verb === 'save' && file)
    return {
      blocks: [{ type: 'tool_call', name: 'write_file', input: { path: file, content: rest.join(' ') } }],
    };
  if (verb === 'read' && file)
    return { blocks: [{ type: 'tool_call', name: 'read_file', input: { path: file } }] };
  if (verb === 'slow')
    return { blocks: [{ type: 'text', text: 'tick '.repeat(400), chunkSize: 5 }], chunkDelayMs: 25 };
  return { blocks: [{ type: 'text', text: `You said: ${text}` }] };
}

describe('executions end to end (distributed, two workers)', () => {
  let fake: FakeModelServer;
  let platform: TestPlatform;
  let admin: ApiClient;
  let user: ApiClient;

  beforeAll(async () => {
    fake = await startFakeModelServer((request) => fileScenario(request));
    platform = await startTestPlatform({
      workers: 2,
      env: { ANTHROPIC_API_KEY: 'sk-ant-e2e', ANTHROPIC_BASE_URL: `${fake.url}/v1` },
    });
    admin = new ApiClient(platform.url, platform.adminToken);
    user = await admin.createUser('e2e-user');
  }, 90_000);
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });

  async function agentTurn(sessionId: string, text: string, onEvent?: (e: SseEvent) => void) {
    const { execution } = await user.ok<{ execution: Execution }>('POST', `/sessions/${sessionId}/messages`, {
      text,
    });
    const events = await user.events(execution.id, { onEvent });
    const stored = await user.ok<Execution>('GET', `/executions/${execution.id}`);
    return { execution: stored, events };
  }

  it('runs a script in the sandbox and streams its output and file changes over SSE', async () => {
    const execution = await user.ok<Execution>('POST', '/executions', {
      language: 'javascript',
      code: `const fs = require('fs');
console.log('sum', input.a + input.b);
fs.writeFileSync('../outputs/sum.txt', String(input.a + input.b));
return { sum: input.a + input.b };`,
      input: { a: 2, b: 3 },
    });
    const events = await user.events(execution.id);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('execution.queued');
    expect(types).toContain('execution.started');
    expect(events.find((e) => e.type === 'output')?.data).toMatchObject({
      stream: 'stdout',
      data: 'sum 5\n',
    });
    expect(events.find((e) => e.type === 'file.changed')?.data).toMatchObject({
      path: 'outputs/sum.txt',
      change: 'created',
      size: 1,
    });
    const done = terminalOf(events);
    expect(done?.type).toBe('execution.completed');
    expect(done?.data.result).toMatchObject({ exitCode: 0, result: { sum: 5 } });

    const stored = await user.ok<Execution>('GET', `/executions/${execution.id}`);
    expect(stored.status).toBe('succeeded');
    expect(stored.durationMs).toBeGreaterThan(0);
    const response = await fetch(`${platform.url}/api/v1/files/outputs/sum.txt`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(await response.text()).toBe('5');
  });

  it('ends a failing script failed with script_error and its output', async () => {
    const execution = await user.ok<Execution>('POST', '/executions', {
      language: 'javascript',
      code: `console.error('bad input'); throw new Error('boom')`,
    });
    const events = await user.events(execution.id);
    expect(terminalOf(events)?.type).toBe('execution.failed');
    expect(terminalOf(events)?.data.error).toMatchObject({ code: 'script_error' });
    expect(events.some((e) => e.type === 'output' && String(e.data.data).includes('boom'))).toBe(true);
  });

  it("runs an agent turn with tool use; the next turn on the other worker reads the first turn's file", async () => {
    const session = await user.ok<{ id: string }>('POST', '/sessions', { title: 'two workers' });
    const first = await agentTurn(session.id, 'save outputs/plan.txt buy milk and eggs');
    expect(first.execution.status).toBe('succeeded');
    const types = first.events.map((e) => e.type);
    for (const type of ['tool.call', 'tool.result', 'text.delta', 'usage', 'file.changed'])
      expect(types).toContain(type);
    expect(types.indexOf('tool.call')).toBeLessThan(types.indexOf('tool.result'));
    expect(fake.requests.at(-1)?.headers['x-api-key']).toBe('sk-ant-e2e');

    // Take the worker that ran the first turn out: the second turn can only run on the other one.
    const firstWorker = platform.workers.find((w) => w.runtime.workerId === first.execution.workerId);
    const otherWorker = platform.workers.find((w) => w !== firstWorker);
    expect(firstWorker && otherWorker).toBeTruthy();
    await firstWorker?.stop(5000);
    const otherCopy = path.join(otherWorker?.sandboxRoot ?? '', first.execution.userId, 'outputs/plan.txt');
    await expect(fs.stat(otherCopy)).rejects.toThrow();

    const second = await agentTurn(session.id, 'read outputs/plan.txt');
    expect(second.execution.status).toBe('succeeded');
    expect(second.execution.workerId).toBe(otherWorker?.runtime.workerId);
    const result = second.events.find((e) => e.type === 'tool.result');
    expect(result?.data.output).toMatchObject({ content: 'buy milk and eggs' });
    const text = second.events
      .filter((e) => e.type === 'text.delta')
      .map((e) => e.data.text)
      .join('');
    expect(text).toContain('buy milk and eggs');
    expect(await fs.readFile(otherCopy, 'utf8')).toBe('buy milk and eggs');

    // The conversation was stored: user, assistant (tool call), tool, assistant (text) per turn.
    const messages = await user.ok<{ items: Message[] }>('GET', `/sessions/${session.id}/messages?limit=100`);
    expect(messages.items.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'tool',
      'assistant',
      'user',
      'assistant',
      'tool',
      'assistant',
    ]);
    // The second turn's model request carried the first turn as context.
    expect(JSON.stringify(fake.requests.at(-1)?.body.messages)).toContain('buy milk and eggs');

    // Bring a second worker back for the following tests.
    await platform.startWorker();
  });

  it('cancels a streaming agent turn within 1 s', async () => {
    const session = await user.ok<{ id: string }>('POST', '/sessions', { title: 'cancel' });
    let cancelRequestedAt = 0;
    let executionId = '';
    const { execution } = await user.ok<{ execution: Execution }>(
      'POST',
      `/sessions/${session.id}/messages`,
      {
        text: 'slow',
      },
    );
    executionId = execution.id;
    const events = await user.events(executionId, {
      onEvent: (event) => {
        if (event.type === 'text.delta' && cancelRequestedAt === 0) {
          cancelRequestedAt = performance.now();
          void user.request('POST', `/executions/${executionId}/cancel`);
        }
      },
    });
    const end = terminalOf(events);
    expect(end?.type).toBe('execution.cancelled');
    expect((end?.receivedAt ?? Number.POSITIVE_INFINITY) - cancelRequestedAt).toBeLessThan(1000);
    expect((await user.ok<Execution>('GET', `/executions/${executionId}`)).status).toBe('cancelled');
  });
});
