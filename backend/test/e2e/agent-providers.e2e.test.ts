import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Execution } from '../../src/store/types.js';
import {
  endsWithToolResult,
  type FakeModelServer,
  type FakeTurn,
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
 * Agent turns through the whole path with an OpenAI-compatible endpoint (as Ollama or vLLM would
 * be configured): provider failures as the SSE client sees them.
 */
describe('agent turns through an OpenAI-compatible endpoint (distributed)', () => {
  let fake: FakeModelServer;
  let platform: TestPlatform;
  let user: ApiClient;
  const rateLimited = new Set<string>();

  function scenario(request: RecordedRequest): FakeTurn {
    const text = lastUserText(request);
    if (text === 'denied') return { kind: 'error', status: 401, message: 'Incorrect API key provided' };
    if (text === 'busy' && !rateLimited.has(text)) {
      rateLimited.add(text);
      return { kind: 'error', status: 429, message: 'Rate limit reached', headers: { 'retry-after': '0' } };
    }
    if (text === 'bad arguments' && !endsWithToolResult(request))
      return {
        blocks: [{ type: 'tool_call', name: 'write_file', input: '{"path": "outputs/a.txt", "content": "x' }],
      };
    return {
      blocks: [{ type: 'text', text: `answer to ${text}` }],
      usage: { inputTokens: 12, outputTokens: 4 },
    };
  }

  beforeAll(async () => {
    fake = await startFakeModelServer(scenario);
    platform = await startTestPlatform({
      workers: 1,
      env: { OPENAI_COMPATIBLE_BASE_URL: `${fake.url}/v1`, MODEL_NAME: 'llama3.1' },
    });
    user = await new ApiClient(platform.url, platform.adminToken).createUser('provider-user');
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });

  async function turn(text: string): Promise<{ events: SseEvent[]; execution: Execution; requests: number }> {
    const before = fake.requests.length;
    const session = await user.ok<{ id: string }>('POST', '/sessions', { title: text });
    const { execution } = await user.ok<{ execution: Execution }>(
      'POST',
      `/sessions/${session.id}/messages`,
      { text },
    );
    const events = await user.events(execution.id);
    return {
      events,
      execution: await user.ok<Execution>('GET', `/executions/${execution.id}`),
      requests: fake.requests.length - before,
    };
  }

  it('streams the answer and its usage', async () => {
    const { events, execution } = await turn('hello');
    expect(execution.status).toBe('succeeded');
    expect(
      events
        .filter((e) => e.type === 'text.delta')
        .map((e) => e.data.text)
        .join(''),
    ).toBe('answer to hello');
    expect(events.find((e) => e.type === 'usage')?.data).toMatchObject({ inputTokens: 12, outputTokens: 4 });
    expect(execution.usage).toEqual({ inputTokens: 12, outputTokens: 4 });
    expect(fake.requests.at(-1)?.body.model).toBe('llama3.1');
  });

  it('fails at once with provider_auth on 401, without retrying', async () => {
    const { events, execution, requests } = await turn('denied');
    expect(terminalOf(events)?.type).toBe('execution.failed');
    expect(execution.error?.code).toBe('provider_auth');
    expect(execution.error?.message).toContain('Incorrect API key provided');
    expect(requests).toBe(1);
  });

  it('retries a 429 and succeeds', async () => {
    const { execution, requests } = await turn('busy');
    expect(execution.status).toBe('succeeded');
    expect(requests).toBe(2);
  });

  it('answers malformed tool arguments with a tool error and continues the turn', async () => {
    const { events, execution } = await turn('bad arguments');
    expect(execution.status).toBe('succeeded');
    const result = events.find((e) => e.type === 'tool.result');
    expect(result?.data).toMatchObject({ toolName: 'write_file', isError: true });
    expect(events.filter((e) => e.type === 'text.delta').length).toBeGreaterThan(0);
  });
});
