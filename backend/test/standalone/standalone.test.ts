import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Smoke test of `ipa standalone` as users start it: the built binary in its own process, with a
 * fresh data directory, driven over HTTP and SSE only.
 */
const repositoryDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const builtMain = path.join(repositoryDir, 'backend', 'dist', 'main.js');
const present = existsSync(builtMain);
if (!present)
  console.info(`standalone smoke test skipped: ${builtMain} is missing (npm test builds it first)`);

/** Starting takes a few seconds alone, much longer on a machine busy with other test files. */
const startTimeoutMs = 120_000;

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function startStandalone(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [builtMain, 'standalone'], {
    cwd: os.tmpdir(),
    // Only what the test chooses: no DATABASE_URL, REDIS_URL or IPA_ADMIN_TOKEN from the caller.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`standalone did not start within ${startTimeoutMs} ms:\n${text}`));
    }, startTimeoutMs);
    const check = () => {
      const url = /listening on (http:\/\/\S+)/.exec(text)?.[1];
      // The banner (URL, data directory, admin token) ends with the "Ready." line.
      if (url && /^Ready\./m.test(text)) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve({ child, url, output: () => text, exited });
      }
    };
    child.stdout?.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`standalone exited (code ${code}, signal ${signal}) before it was ready:\n${text}`));
    });
  });
}

/** Whether the API still answers its liveness check: not once it drains, or is gone. */
async function answersLive(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

async function stop(started: Started, signal: NodeJS.Signals = 'SIGTERM') {
  started.child.kill(signal);
  return started.exited;
}

interface SseEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** Reads an execution's event stream until its terminal event. */
async function readEvents(
  url: string,
  token: string,
  executionId: string,
  timeoutMs = 60_000,
): Promise<SseEvent[]> {
  const response = await fetch(`${url}/api/v1/executions/${executionId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const field = (name: string) =>
        block
          .split('\n')
          .filter((line) => line.startsWith(`${name}: `))
          .map((line) => line.slice(name.length + 2))
          .join('\n');
      if (!field('event')) continue;
      events.push({ id: field('id'), type: field('event'), data: JSON.parse(field('data')) });
      if (['execution.completed', 'execution.failed', 'execution.cancelled'].includes(field('event'))) {
        return events;
      }
    }
  }
  throw new Error(`stream ended without a terminal event: ${events.map((e) => e.type).join(', ')}`);
}

describe.skipIf(!present)('ipa standalone (built binary)', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let token: string;
  let current: Started | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ipa-standalone-'));
    // Sandboxes may run under a dropped uid: the directories above theirs must be traversable.
    await chmod(dataDir, 0o711);
    // Its TMPDIR lives in the data directory, removed with it even after a SIGKILL.
    await mkdir(path.join(dataDir, 'tmp'), { mode: 0o711 });
    env = {
      DATA_DIR: dataDir,
      TMPDIR: path.join(dataDir, 'tmp'),
      PORT: String(await freePort()),
      WORKER_GRACE_SECONDS: '1',
    };
  }, startTimeoutMs);

  afterAll(async () => {
    if (current && current.child.exitCode === null) {
      current.child.kill('SIGKILL');
      await current.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  const api = (method: string, route: string, body?: unknown) =>
    fetch(`${current?.url}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const untilRunning = (executionId: string) =>
    expect
      .poll(
        async () =>
          ((await (await api('GET', `/executions/${executionId}`)).json()) as { status: string }).status,
        { timeout: 30_000, interval: 100 },
      )
      .toBe('running');

  it(
    'starts, prints its URL and a generated admin token, and runs a script execution to its terminal event',
    async () => {
      current = await startStandalone(env);
      expect(current.url).toBe(`http://127.0.0.1:${env.PORT}`);
      token =
        /Admin token \(shown only this once[^:]*: (ipa_[A-Za-z0-9_-]{43})/.exec(current.output())?.[1] ?? '';
      expect(token).not.toBe('');

      const health = await fetch(`${current.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ role: 'standalone', isolation: expect.any(String) });
      expect((await api('GET', '/me')).status).toBe(200);

      const session = await api('POST', '/sessions', { title: 'smoke' });
      expect(session.status).toBe(201);
      expect(await session.json()).toMatchObject({ title: 'smoke' });

      const created = await api('POST', '/executions', {
        language: 'javascript',
        code: 'console.log("hello from the sandbox"); return 6 * 7;',
      });
      expect(created.status).toBe(202);
      const execution = (await created.json()) as { id: string; status: string };
      const events = await readEvents(current.url, token, execution.id);
      const types = events.map((e) => e.type);
      expect(types[0]).toBe('execution.queued');
      expect(types).toContain('execution.started');
      expect(events.find((e) => e.type === 'output')?.data).toMatchObject({
        stream: 'stdout',
        data: expect.stringContaining('hello from the sandbox'),
      });
      expect(
        types.filter(
          (t) => t.startsWith('execution.') && t !== 'execution.queued' && t !== 'execution.started',
        ),
      ).toEqual(['execution.completed']);
      const final = (await (await api('GET', `/executions/${execution.id}`)).json()) as { status: string };
      expect(final.status).toBe('succeeded');
    },
    startTimeoutMs + 60_000,
  );

  it(
    'on SIGTERM hands a running execution back; the next start runs it again as attempt 2 and keeps the token',
    async () => {
      if (!current) throw new Error('the previous test did not start the platform');
      const created = await api('POST', '/executions', {
        language: 'javascript',
        code: 'await new Promise((resolve) => setTimeout(resolve, 2000)); return "slept";',
      });
      const execution = (await created.json()) as { id: string };
      await untilRunning(execution.id);
      const stopping = Date.now();
      const exit = await stop(current);
      expect(exit).toEqual({ code: 0, signal: null });
      // WORKER_GRACE_SECONDS=1 plus the time to hand back and close.
      expect(Date.now() - stopping).toBeLessThan(15_000);

      current = await startStandalone(env);
      const output = current.output();
      expect(output).not.toMatch(/ipa_[A-Za-z0-9_-]{43}/);
      expect(output).toContain('admin-token-issued.json');
      expect((await api('GET', '/me')).status).toBe(200);

      const events = await readEvents(current.url, token, execution.id);
      const types = events.map((e) => e.type);
      // The in-process event log starts empty after a restart: the stream resumes at the re-run.
      const superseded = types.indexOf('execution.superseded');
      expect(superseded).toBeGreaterThanOrEqual(0);
      expect(events[superseded]?.data).toEqual({ attempt: 1 });
      expect(events[superseded + 1]).toMatchObject({ type: 'execution.started', data: { attempt: 2 } });
      expect(events.at(-1)).toMatchObject({ type: 'execution.completed', data: { status: 'succeeded' } });
      expect(types.filter((t) => t === 'execution.completed')).toHaveLength(1);
    },
    startTimeoutMs + 60_000,
  );

  it('a second signal forces the exit while a graceful shutdown waits', async () => {
    if (!current) throw new Error('the previous test did not start the platform');
    const created = await api('POST', '/executions', {
      language: 'javascript',
      code: 'await new Promise((resolve) => setTimeout(resolve, 60000));',
    });
    const execution = (await created.json()) as { id: string };
    await untilRunning(execution.id);
    const started = current;
    started.child.kill('SIGTERM');
    // The graceful shutdown has begun once the API stops answering; the worker still waits for
    // its execution (a second of grace), and the second signal comes in that wait.
    await expect.poll(() => answersLive(started.url), { timeout: 10_000, interval: 20 }).toBe(false);
    started.child.kill('SIGTERM');
    const exit = await started.exited;
    expect(exit.code).toBe(130);
    expect(started.output()).toMatch(/received again: forcing exit/);
  }, 60_000);

  it(
    'issues a new admin token, revoking the old one, when the marker is deleted',
    async () => {
      await rm(path.join(dataDir, 'admin-token-issued.json'));
      const previous = token;
      current = await startStandalone(env);
      token =
        /Admin token \(shown only this once[^:]*: (ipa_[A-Za-z0-9_-]{43})/.exec(current.output())?.[1] ?? '';
      expect(token).not.toBe('');
      expect(token).not.toBe(previous);
      expect((await api('GET', '/me')).status).toBe(200);
      const old = await fetch(`${current.url}/api/v1/me`, {
        headers: { authorization: `Bearer ${previous}` },
      });
      expect(old.status).toBe(401);
      expect(await stop(current)).toEqual({ code: 0, signal: null });
    },
    startTimeoutMs + 30_000,
  );
});
