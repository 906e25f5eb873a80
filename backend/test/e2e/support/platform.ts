import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureAdmin, startApiServer } from '../../../src/api/index.js';
import { type Config, loadConfig } from '../../../src/config/index.js';
import { createExecutors } from '../../../src/engine/index.js';
import { createServices } from '../../../src/platform.js';
import { createSandboxOrchestrator, type SandboxOrchestrator } from '../../../src/sandbox/index.js';
import type { Services } from '../../../src/services.js';
import { migrate } from '../../../src/store/index.js';
import { startWorkerRuntime, type WorkerRuntime, type WorkerTiming } from '../../../src/worker/index.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../../support/services.js';

/**
 * The distributed platform in one test process: an API and any number of worker runtimes, each
 * with its own services (connection pools, Redis clients) and its own sandbox root, as separate
 * replicas would have, against one fresh PostgreSQL database and one Redis key prefix.
 */

export interface TestWorker {
  services: Services;
  orchestrator: SandboxOrchestrator;
  runtime: WorkerRuntime;
  sandboxRoot: string;
  stop(graceMs?: number): Promise<void>;
}

export interface TestPlatform {
  url: string;
  adminToken: string;
  env: Record<string, string>;
  api: Services;
  workers: TestWorker[];
  dataDir: string;
  startWorker(extraEnv?: Record<string, string>): Promise<TestWorker>;
  close(): Promise<void>;
}

export async function startTestPlatform(
  options: {
    workers?: number;
    env?: Record<string, string>;
    /** Worker intervals; tests poll for cancels more often than production does. */
    workerTiming?: Partial<WorkerTiming>;
  } = {},
): Promise<TestPlatform> {
  const database = await freshPostgresDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ipa-e2e-'));
  // mkdtemp makes 0700; bwrap's user namespace must be able to traverse to the sandbox root.
  await fs.chmod(dataDir, 0o755);
  await fs.mkdir(path.join(dataDir, 'tmp'), { mode: 0o711 });
  const adminToken = `ipa_test_admin_${randomBytes(16).toString('hex')}`;
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: freshRedisPrefix(),
    IPA_ADMIN_TOKEN: adminToken,
    DATA_DIR: dataDir,
    // Removed with the data directory, even after a process was SIGKILLed.
    TMPDIR: path.join(dataDir, 'tmp'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '100000',
    USER_CONCURRENCY: '50',
    QUEUE_STALLED_INTERVAL_MS: '2000',
    ...options.env,
  };
  const apiConfig = loadConfig('api', env);
  const api = await createServices(apiConfig);
  await migrate(api.store.db);
  await ensureAdmin(api, adminToken);
  const server = await startApiServer(api, { port: 0, host: '127.0.0.1' });

  const workers: TestWorker[] = [];
  const startWorker = async (extraEnv: Record<string, string> = {}): Promise<TestWorker> => {
    const sandboxRoot = path.join(dataDir, `sandbox-${workers.length}`);
    const config: Config = loadConfig('worker', { ...env, SANDBOX_ROOT: sandboxRoot, ...extraEnv });
    const services = await createServices(config);
    const orchestrator = await createSandboxOrchestrator({ ...config.sandbox, logger: services.logger });
    const executors = createExecutors({ services, orchestrator, agent: { retryBaseDelayMs: 10 } });
    const runtime = startWorkerRuntime({
      services,
      executors,
      orchestrator,
      timing: options.workerTiming ?? { cancelPollMs: 50, heartbeatMs: 500 },
    });
    let stopped = false;
    const worker: TestWorker = {
      services,
      orchestrator,
      runtime,
      sandboxRoot,
      async stop(graceMs = 0) {
        if (stopped) return;
        stopped = true;
        await runtime.stop(graceMs);
        await orchestrator.shutdown();
        await services.close();
      },
    };
    workers.push(worker);
    return worker;
  };
  for (let i = 0; i < (options.workers ?? 1); i++) await startWorker();

  return {
    url: server.url,
    adminToken,
    env,
    api,
    workers,
    dataDir,
    startWorker,
    async close() {
      await Promise.allSettled(workers.map((w) => w.stop(0)));
      await server.drain();
      await api.close();
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A small HTTP client for the platform's API, as one user. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  async request<T = unknown>(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.baseUrl}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async ok<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    const { status, body: answer } = await this.request<T>(method, route, body);
    if (status >= 300) throw new Error(`${method} ${route} answered ${status}: ${JSON.stringify(answer)}`);
    return answer;
  }

  /** Reads the execution's SSE stream until its terminal event (or the timeout). */
  async events(executionId: string, options: { timeoutMs?: number; onEvent?: (e: SseEvent) => void } = {}) {
    return readEvents(`${this.baseUrl}/api/v1/executions/${executionId}/events`, this.token, options);
  }

  async createUser(name: string): Promise<ApiClient> {
    const { token } = await this.ok<{ token: string }>('POST', '/admin/users', { name });
    return new ApiClient(this.baseUrl, token);
  }
}

export interface SseEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  receivedAt: number;
}

const terminal = new Set(['execution.completed', 'execution.failed', 'execution.cancelled']);

export async function readEvents(
  url: string,
  token: string,
  options: { timeoutMs?: number; onEvent?: (e: SseEvent) => void } = {},
): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error('SSE read timed out')),
    options.timeoutMs ?? 20_000,
  );
  const events: SseEvent[] = [];
  try {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`events answered ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        const event = parseBlock(block);
        if (!event) continue;
        events.push(event);
        options.onEvent?.(event);
        if (terminal.has(event.type)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function parseBlock(block: string): SseEvent | null {
  let id = '';
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  return {
    id,
    type,
    data: JSON.parse(data.join('\n')) as Record<string, unknown>,
    receivedAt: performance.now(),
  };
}

export function terminalOf(events: SseEvent[]): SseEvent | undefined {
  return events.find((e) => terminal.has(e.type));
}
