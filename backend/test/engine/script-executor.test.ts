import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileSync, createScriptExecutor } from '../../src/engine/index.js';
import type { ScriptInput } from '../../src/store/types.js';
import {
  memoryStore,
  type SandboxDouble,
  sandboxDouble,
  tempDir,
  testConfig,
  testContext,
} from './support/doubles.js';

describe('script executor', () => {
  let root: string;
  let store: ReturnType<typeof memoryStore>;
  let sandbox: SandboxDouble;
  const config = testConfig();

  beforeEach(async () => {
    root = await tempDir('ipa-script-');
    store = memoryStore();
    sandbox = sandboxDouble(root);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  function setup(input: ScriptInput, signal?: AbortSignal) {
    const fileSync = createFileSync({
      files: store.files,
      userDir: sandbox.userDir,
      quotaBytes: config.files.userQuotaBytes,
    });
    const executor = createScriptExecutor({ orchestrator: sandbox, fileSync });
    const context = testContext({ execution: { kind: 'script', input }, store, config, signal });
    return { executor, context };
  }

  it('streams output in order and returns exit code, duration and files', async () => {
    const { executor, context } = setup({
      language: 'javascript',
      code: `
        import fs from 'node:fs';
        for (let i = 0; i < 5; i++) console.log('line ' + i);
        console.error('warning');
        fs.writeFileSync('../outputs/report.txt', 'total: ' + JSON.parse(process.env.IPA_INPUT).n);
      `,
      input: { n: 42 },
    });
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('succeeded');
    expect(outcome.result).toMatchObject({ exitCode: 0, outputTruncated: false });
    expect((outcome.result as { durationMs: number }).durationMs).toBeGreaterThan(0);
    const stdout = context.recorded
      .filter((e) => e.type === 'output' && e.data.stream === 'stdout')
      .map((e) => e.data.data)
      .join('');
    expect(stdout).toBe('line 0\nline 1\nline 2\nline 3\nline 4\n');
    expect(context.recorded.some((e) => e.type === 'output' && e.data.stream === 'stderr')).toBe(true);
    const changed = context.recorded.filter((e) => e.type === 'file.changed');
    expect(changed.map((e) => e.data)).toEqual([{ path: 'outputs/report.txt', change: 'created', size: 9 }]);
    expect((await store.files.get(context.execution.userId, 'outputs/report.txt'))?.content.toString()).toBe(
      'total: 42',
    );
    expect(sandbox.released).toBe(sandbox.acquired);
  });

  it('sees the files stored in the database before it runs', async () => {
    const { executor, context } = setup({
      language: 'javascript',
      code: `import fs from 'node:fs'; console.log(fs.readFileSync('../uploads/in.csv', 'utf8'))`,
    });
    await store.files.put(context.execution.userId, 'uploads/in.csv', Buffer.from('a,b'), 1e6);
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('succeeded');
    expect(context.recorded.find((e) => e.type === 'output')?.data.data).toBe('a,b\n');
  });

  it('fails with script_error on a non-zero exit and keeps the result', async () => {
    const { executor, context } = setup({
      language: 'javascript',
      code: `console.log('x'); process.exit(3)`,
    });
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toEqual({ code: 'script_error', message: 'the script exited with code 3' });
    expect(outcome.result).toMatchObject({ exitCode: 3 });
    expect(sandbox.released).toBe(1);
  });

  it('refuses a language the sandbox does not offer without taking a sandbox', async () => {
    const { executor, context } = setup({ language: 'python', code: 'print(1)' });
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('unsupported_language');
    expect(outcome.error?.message).toMatch(/'python'.*javascript, typescript/);
    expect(sandbox.acquired).toBe(0);
  });

  it('rejects malformed input clearly', async () => {
    const { executor, context } = setup({ language: 'javascript' } as ScriptInput);
    const outcome = await executor.run(context);
    expect(outcome.error?.code).toBe('invalid_input');
  });

  it('is cancelled through the signal: the call is aborted, the lease released, no files saved', async () => {
    const controller = new AbortController();
    const { executor, context } = setup(
      {
        language: 'javascript',
        code: `import fs from 'node:fs'; fs.writeFileSync('partial.txt', 'x'); console.log('started'); setInterval(() => {}, 1000)`,
      },
      controller.signal,
    );
    const started = performance.now();
    const running = executor.run(context);
    await waitFor(() => context.recorded.some((e) => e.type === 'output'));
    controller.abort({ code: 'cancelled' });
    const outcome = await running;
    expect(outcome.status).toBe('cancelled');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(sandbox.released).toBe(1);
    expect(await store.files.get(context.execution.userId, 'workspace/partial.txt')).toBeNull();
    expect(context.recorded.some((e) => e.type === 'file.changed')).toBe(false);
    // The next run of the user starts from the database's state: the partial file is gone.
    const next = setup({
      language: 'javascript',
      code: `import fs from 'node:fs'; console.log(fs.existsSync('partial.txt'))`,
    });
    next.context.execution.userId = context.execution.userId;
    await next.executor.run(next.context);
    expect(next.context.recorded.find((e) => e.type === 'output')?.data.data).toBe('false\n');
  });

  it('fails the execution when its files pass the quota, keeping stored files', async () => {
    const small = testConfig({ USER_QUOTA_BYTES: '100' });
    const fileSync = createFileSync({ files: store.files, userDir: sandbox.userDir, quotaBytes: 100 });
    const executor = createScriptExecutor({ orchestrator: sandbox, fileSync });
    const context = testContext({
      execution: {
        kind: 'script',
        input: {
          language: 'javascript',
          code: `import fs from 'node:fs'; fs.writeFileSync('big.txt', 'x'.repeat(500))`,
        },
      },
      store,
      config: small,
    });
    await store.files.put(context.execution.userId, 'uploads/keep.txt', Buffer.from('keep'), 100);
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('quota_exceeded');
    expect(outcome.result).toMatchObject({ exitCode: 0 });
    expect((await store.files.list(context.execution.userId)).map((f) => f.path)).toEqual([
      'uploads/keep.txt',
    ]);
    expect(
      await fs.readFile(path.join(sandbox.userDir(context.execution.userId), 'uploads/keep.txt'), 'utf8'),
    ).toBe('keep');
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
