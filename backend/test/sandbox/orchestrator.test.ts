import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  chooseIsolation,
  createSandboxOrchestrator,
  type ManagedSandboxOrchestrator,
  SandboxError,
  type SandboxEvent,
  sandboxEnvironment,
} from '../../src/sandbox/index.js';
import { quietWindow } from '../support/fixed-wait.js';
import { availableLevels, createPool, makeRoot, newUserId, removeRoot, runIn } from './support.js';

const levels = await availableLevels();
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pool(
  overrides: Parameters<typeof createPool>[2] = {},
  level = levels.at(-1) ?? 'process',
): Promise<ManagedSandboxOrchestrator> {
  const root = await makeRoot();
  const created = await createPool(root, level, overrides);
  cleanups.push(async () => {
    await created.shutdown();
    await removeRoot(root);
  });
  return created;
}

describe('isolation choice', () => {
  const bwrap = { level: 'bwrap' as const, reason: 'works' };
  const processOnly = { level: 'process' as const, reason: 'bwrap cannot create its namespaces here' };

  it('takes the best level with auto and the asked one otherwise', () => {
    expect(chooseIsolation({ isolation: 'auto', requireIsolation: 'none' }, bwrap).level).toBe('bwrap');
    expect(chooseIsolation({ isolation: 'auto', requireIsolation: 'none' }, processOnly).level).toBe(
      'process',
    );
    expect(chooseIsolation({ isolation: 'process', requireIsolation: 'none' }, bwrap).level).toBe('process');
  });

  it('refuses to start without bwrap when bwrap is required or asked for', () => {
    expect(() => chooseIsolation({ isolation: 'auto', requireIsolation: 'bwrap' }, processOnly)).toThrow(
      /SANDBOX_REQUIRE_ISOLATION=bwrap but bwrap isolation is unavailable: bwrap cannot create/,
    );
    expect(() => chooseIsolation({ isolation: 'bwrap', requireIsolation: 'none' }, processOnly)).toThrow(
      /SANDBOX_ISOLATION=bwrap/,
    );
    expect(() => chooseIsolation({ isolation: 'process', requireIsolation: 'bwrap' }, bwrap)).toThrow(
      /contradicts/,
    );
  });

  it('builds the sandbox environment from the allowlist only, never secrets', () => {
    const env = sandboxEnvironment(['LANG', 'TZ', 'DATABASE_URL', 'MY_API_KEY', 'GITHUB_TOKEN', 'bad name'], {
      LANG: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      DATABASE_URL: 'postgres://x',
      MY_API_KEY: 'k',
      GITHUB_TOKEN: 't',
      HOME: '/root',
    });
    expect(env).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'de_DE.UTF-8', TZ: 'Europe/Berlin' });
  });
});

describe('sandbox orchestrator', () => {
  it('starts from the worker configuration', async () => {
    const root = await makeRoot();
    const config = loadConfig('standalone', {
      SANDBOX_ROOT: root,
      SANDBOX_ISOLATION: 'process',
      DATA_DIR: path.dirname(root),
    });
    const sandboxes = await createSandboxOrchestrator({ ...config.sandbox, logger: createLogger('silent') });
    cleanups.push(async () => {
      await sandboxes.shutdown();
      await removeRoot(root);
    });
    expect(sandboxes.isolation).toBe('process');
    expect(sandboxes.isolationReason).toMatch(/SANDBOX_ISOLATION=process/);
    expect(sandboxes.languages).toEqual(['javascript', 'typescript']);
    expect(sandboxes.userDir('6f1c2a4e-0b7d-4c1e-9a51-3d2f8e7b9c10')).toBe(
      path.join(root, '6f1c2a4e-0b7d-4c1e-9a51-3d2f8e7b9c10'),
    );
    expect((await runIn(sandboxes, newUserId(), 'return "configured"')).result.result).toBe('configured');
  });

  it('reuses one process per user and reports pool figures', async () => {
    const sandboxes = await pool();
    const user = newUserId();
    const first = await sandboxes.acquire(user);
    const pid = sandboxes.processIdOf(user);
    first.release();
    const second = await sandboxes.acquire(user);
    expect(sandboxes.processIdOf(user)).toBe(pid);
    expect(sandboxes.figures()).toMatchObject({ live: 1, busy: 1, idle: 0, starts: 1, crashes: 0 });
    second.release();
    expect(sandboxes.figures()).toMatchObject({ live: 1, busy: 0, idle: 1, reuseRatio: 0.5 });
  });

  it('refuses invalid user ids', async () => {
    const sandboxes = await pool();
    for (const bad of ['../etc', '', 'not-a-uuid', `${newUserId()}/..`]) {
      await expect(sandboxes.acquire(bad)).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });

  it("serialises one user's executions", async () => {
    const sandboxes = await pool();
    const user = newUserId();
    const first = await sandboxes.acquire(user);
    let secondGranted = false;
    const second = sandboxes.acquire(user).then((lease) => {
      secondGranted = true;
      return lease;
    });
    await vi.waitFor(() => expect(sandboxes.figures().waiting).toBe(1));
    // The second lease may not come while the first is held.
    await quietWindow(100);
    expect(secondGranted).toBe(false);
    expect(sandboxes.figures().waiting).toBe(1);
    first.release();
    (await second).release();
    expect(secondGranted).toBe(true);
  });

  it('evicts the least recently used idle process when full', async () => {
    const sandboxes = await pool({ maxProcesses: 2 });
    const [a, b, c] = [newUserId(), newUserId(), newUserId()];
    (await sandboxes.acquire(b)).release();
    (await sandboxes.acquire(a)).release();
    (await sandboxes.acquire(c)).release();
    expect(sandboxes.processIdOf(b)).toBeUndefined();
    expect(sandboxes.processIdOf(a)).toBeTypeOf('number');
    expect(sandboxes.figures()).toMatchObject({ live: 2, evictions: 1 });
  });

  it('makes callers wait in FIFO order when all are busy, and bounds the wait', async () => {
    const sandboxes = await pool({ maxProcesses: 1, acquireTimeoutMs: 400 });
    const [a, b, c] = [newUserId(), newUserId(), newUserId()];
    const leaseA = await sandboxes.acquire(a);
    const order: string[] = [];
    const waitB = sandboxes.acquire(b).then((lease) => {
      order.push('b');
      return lease;
    });
    const waitC = sandboxes.acquire(c).then(
      (lease) => {
        order.push('c');
        return lease;
      },
      (error: unknown) => error,
    );
    await vi.waitFor(() => expect(sandboxes.figures().waiting).toBe(2));
    leaseA.release();
    const leaseB = await waitB;
    expect(await waitC).toMatchObject({ code: 'busy', message: expect.stringMatching(/within 400 ms/) });
    leaseB.release();
    expect(order).toEqual(['b']);
    expect(sandboxes.figures().waitMsMax).toBeGreaterThan(0);
    // Once B is released, C's next attempt gets the slot (B's idle process is evicted).
    const late = await sandboxes.acquire(c);
    expect(sandboxes.figures()).toMatchObject({ live: 1, evictions: 2 });
    late.release();
  });

  it('reaps idle processes', async () => {
    const sandboxes = await pool({ idleMs: 150, pingIntervalMs: 50 });
    (await sandboxes.acquire(newUserId())).release();
    await expect.poll(() => sandboxes.figures().reaped, { timeout: 3000 }).toBe(1);
    expect(sandboxes.figures().live).toBe(0);
  });

  it('kills and replaces a hung process that misses a ping', async () => {
    const sandboxes = await pool({ pingIntervalMs: 100, pingTimeoutMs: 200 }, 'process');
    const user = newUserId();
    (await sandboxes.acquire(user)).release();
    process.kill(sandboxes.processIdOf(user) as number, 'SIGSTOP');
    await expect.poll(() => sandboxes.figures().crashes, { timeout: 3000 }).toBe(1);
    expect((await runIn(sandboxes, user, 'return 7')).result.result).toBe(7);
  });

  it('cancels a running call', async () => {
    const sandboxes = await pool();
    const user = newUserId();
    const lease = await sandboxes.acquire(user);
    try {
      const controller = new AbortController();
      // Cancelled once the script is under way (its first output has come).
      const running = lease.run(
        {
          language: 'javascript',
          code: "console.log('under way'); await new Promise(() => {});",
          timeoutMs: 10_000,
        },
        { signal: controller.signal, onEvent: (event) => event.kind === 'output' && controller.abort() },
      );
      await expect(running).rejects.toMatchObject({ code: 'cancelled' });
      expect((await lease.run({ language: 'javascript', code: 'return 1', timeoutMs: 1000 })).result).toBe(1);
    } finally {
      lease.release();
    }
  });

  it('shuts down every process and refuses new leases', async () => {
    const sandboxes = await pool();
    const users = [newUserId(), newUserId()];
    for (const user of users) (await sandboxes.acquire(user)).release();
    const pids = users.map((user) => sandboxes.processIdOf(user) as number);
    await sandboxes.shutdown();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    await expect(sandboxes.acquire(newUserId())).rejects.toBeInstanceOf(SandboxError);
  });
});

describe.each(levels)('sandbox runtime at %s level', (level) => {
  it('runs JavaScript and TypeScript with input, result, streamed output and errors', async () => {
    const sandboxes = await pool({}, level);
    const user = newUserId();
    const js = await runIn(
      sandboxes,
      user,
      'console.log("sum", input.a + input.b); console.error("warn"); return { total: input.a + input.b };',
      {
        input: { a: 2, b: 3 },
      },
    );
    expect(js.result).toMatchObject({
      exitCode: 0,
      result: { total: 5 },
      timedOut: false,
      outputTruncated: false,
    });
    expect(js.stdout).toBe('sum 5\n');
    expect(js.stderr).toBe('warn\n');
    const ts = await runIn(
      sandboxes,
      user,
      'interface P { n: number }\nconst p: P = { n: 4 };\nawait new Promise((r) => setTimeout(r, 10));\nreturn p.n * 2;',
      {
        language: 'typescript',
      },
    );
    expect(ts.result).toMatchObject({ exitCode: 0, result: 8 });
    const broken = await runIn(sandboxes, user, 'const x: = 1;', { language: 'typescript' });
    expect(broken.result.exitCode).toBe(1);
    expect(broken.stderr).toMatch(/TypeScript error/);
    const thrown = await runIn(sandboxes, user, 'throw new Error("boom")');
    expect(thrown.result.exitCode).toBe(1);
    expect(thrown.stderr).toMatch(/Error: boom/);
    // A fresh context per run: globals do not leak from one run into the next.
    await runIn(sandboxes, user, 'globalThis.leftover = 1;');
    expect((await runIn(sandboxes, user, 'return typeof leftover')).result.result).toBe('undefined');
  });

  it('edits files and reports file changes', async () => {
    const sandboxes = await pool({}, level);
    const lease = await sandboxes.acquire(newUserId());
    const events: SandboxEvent[] = [];
    try {
      await lease.write('outputs/report.md', 'a b a', { onEvent: (e) => events.push(e) });
      await expect(lease.edit('outputs/report.md', 'a', 'c')).rejects.toMatchObject({
        code: 'invalid_request',
      });
      await expect(lease.edit('outputs/report.md', 'zzz', 'c')).rejects.toMatchObject({ code: 'not_found' });
      expect(await lease.edit('outputs/report.md', 'b', 'x', { onEvent: (e) => events.push(e) })).toEqual({
        replacements: 1,
      });
      expect((await lease.read('outputs/report.md')).content).toBe('a x a');
      await lease.write('uploads/bin.dat', Buffer.from([0, 255, 1]).toString('base64'), {
        encoding: 'base64',
      });
      expect(await lease.read('uploads/bin.dat')).toEqual({ content: 'AP8B', encoding: 'base64', size: 3 });
      await lease.delete('outputs/report.md', { onEvent: (e) => events.push(e) });
      await expect(lease.read('outputs/report.md')).rejects.toMatchObject({ code: 'not_found' });
      await expect(lease.delete('workspace')).rejects.toMatchObject({ code: 'invalid_path' });
      expect(events).toEqual([
        { kind: 'file.changed', path: 'outputs/report.md', change: 'created' },
        { kind: 'file.changed', path: 'outputs/report.md', change: 'modified' },
        { kind: 'file.changed', path: 'outputs/report.md', change: 'deleted' },
      ]);
    } finally {
      lease.release();
    }
  });

  it('reports the files a code run changed', async () => {
    const sandboxes = await pool({}, level);
    const user = newUserId();
    await runIn(
      sandboxes,
      user,
      "require('node:fs').writeFileSync('old.txt', 'x'); require('node:fs').writeFileSync('keep.txt', 'x');",
    );
    const outcome = await runIn(
      sandboxes,
      user,
      "const fs = require('node:fs'); fs.mkdirSync('../outputs/charts', { recursive: true }); fs.writeFileSync('../outputs/charts/c.svg', '<svg/>'); fs.appendFileSync('keep.txt', 'more'); fs.rmSync('old.txt');",
    );
    expect(outcome.events.filter((e) => e.kind === 'file.changed')).toEqual([
      { kind: 'file.changed', path: 'outputs/charts/c.svg', change: 'created' },
      { kind: 'file.changed', path: 'workspace/keep.txt', change: 'modified' },
      { kind: 'file.changed', path: 'workspace/old.txt', change: 'deleted' },
    ]);
  });

  it(level === 'bwrap' ? 'runs shell and Python' : 'refuses shell and Python clearly', async () => {
    const sandboxes = await pool({}, level);
    const user = newUserId();
    if (level === 'bwrap') {
      const shell = await runIn(sandboxes, user, 'read line; echo "got $line"; exit 3', {
        language: 'shell',
        input: 'hi',
      });
      expect(shell.stdout).toBe('got "hi"\n');
      expect(shell.result.exitCode).toBe(3);
      const python = await runIn(sandboxes, user, 'import json, sys\nprint(json.load(sys.stdin)["n"] * 2)', {
        language: 'python',
        input: { n: 21 },
      });
      expect(python.stdout).toBe('42\n');
      expect(python.result.exitCode).toBe(0);
      // A failed run says where, as a JavaScript one does.
      const syntax = await runIn(sandboxes, user, 'x = 1\nif True:\n    print("a" +* 2)', {
        language: 'python',
      });
      expect(syntax.result).toMatchObject({
        exitCode: 1,
        error: { message: 'SyntaxError: invalid syntax', line: 3, column: 16 },
      });
      const raised = await runIn(sandboxes, user, 'def f():\n    return 1 / 0\nf()', { language: 'python' });
      expect(raised.result.error).toEqual({ message: 'ZeroDivisionError: division by zero', line: 2 });
      const shellSyntax = await runIn(sandboxes, user, 'x=1\nif then', { language: 'shell' });
      expect(shellSyntax.result.error).toEqual({ message: 'Syntax error: "then" unexpected', line: 2 });
    } else {
      for (const language of ['shell', 'python'] as const) {
        await expect(runIn(sandboxes, user, 'echo hi', { language })).rejects.toMatchObject({
          code: 'unsupported_language',
          message: expect.stringMatching(/needs bwrap isolation/),
        });
      }
    }
  });
});
