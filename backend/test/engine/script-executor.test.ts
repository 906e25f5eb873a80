import fs from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFileSync, createScriptExecutor } from '../../src/engine/index.js';
import type { ScriptInput, Store } from '../../src/store/types.js';
import { ExecutionAbortedError } from '../../src/worker/index.js';
import { openTestStore, testContext } from './support/context.js';
import { realSandbox, type SandboxDouble, sandboxDouble, tempDir, testConfig } from './support/doubles.js';

// One migrated database for the file; every execution is of a new user unless a test names one.
let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store?.db.close());

// Each case runs against the platform's real sandbox and against a plain child-process double.
describe.each([
  ['real sandbox', realSandbox],
  ['child-process double', async (root: string) => sandboxDouble(root)],
])('script executor (%s)', (name, makeSandbox) => {
  let root: string;
  let sandbox: SandboxDouble;
  const config = testConfig();

  beforeEach(async () => {
    root = await tempDir('ipa-script-');
    sandbox = await makeSandbox(root);
  });
  afterEach(async () => {
    await sandbox.shutdown();
    await fs.rm(root, { recursive: true, force: true });
  });

  async function setup(
    input: ScriptInput,
    options: { signal?: AbortSignal; quotaBytes?: number; userId?: string } = {},
  ) {
    const fileSync = createFileSync({
      files: store.files,
      quotaFiles: 10_000,
      quotaBytes: options.quotaBytes ?? config.files.userQuotaBytes,
    });
    const executor = createScriptExecutor({ orchestrator: sandbox, fileSync });
    const context = await testContext({
      execution: { kind: 'script', input, ...(options.userId ? { userId: options.userId } : {}) },
      store,
      config,
      signal: options.signal,
    });
    return { executor, context };
  }

  it('streams output in order and returns exit code, result, duration and files', async () => {
    const { executor, context } = await setup({
      language: 'javascript',
      code: `const fs = require('fs');
for (let i = 0; i < 5; i++) console.log('line ' + i);
console.error('warning');
fs.writeFileSync('../outputs/report.txt', 'total: ' + input.n);
return { n: input.n };`,
      input: { n: 42 },
    });
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('succeeded');
    expect(outcome.result).toMatchObject({ exitCode: 0, outputTruncated: false, result: { n: 42 } });
    expect((outcome.result as { durationMs: number }).durationMs).toBeGreaterThan(0);
    const stdout = context.recorded
      .filter((e) => e.type === 'output' && e.data.stream === 'stdout')
      .map((e) => e.data.data)
      .join('');
    expect(stdout).toBe('line 0\nline 1\nline 2\nline 3\nline 4\n');
    expect(context.recorded.some((e) => e.type === 'output' && e.data.stream === 'stderr')).toBe(true);
    // The changed files go to the worker, which stores them with the finished row; until it has,
    // the user's sandbox stays leased so no other execution sees the directory ahead of the database.
    expect(outcome.files?.changes).toEqual([{ path: 'outputs/report.txt', change: 'created', size: 9 }]);
    expect(outcome.files?.writes.map((w) => w.content.toString())).toEqual(['total: 42']);
    expect(await store.files.get(context.execution.userId, 'outputs/report.txt')).toBeNull();
    expect(context.recorded.some((e) => e.type === 'file.changed')).toBe(false);
    expect(sandbox.released).toBe(sandbox.acquired - 1);
    outcome.files?.close(true);
    expect(sandbox.released).toBe(sandbox.acquired);
  });

  it('sees the files stored in the database before it runs', async () => {
    const { executor, context } = await setup({
      language: 'javascript',
      code: `console.log(require('fs').readFileSync('../uploads/in.csv', 'utf8'))`,
    });
    await store.files.put(context.execution.userId, 'uploads/in.csv', Buffer.from('a,b'), 1e6);
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('succeeded');
    expect(context.recorded.find((e) => e.type === 'output')?.data.data).toBe('a,b\n');
  });

  it('fails with script_error when the script throws, keeping its result and output', async () => {
    const { executor, context } = await setup({
      language: 'javascript',
      code: `console.log('x'); throw new Error('boom')`,
    });
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('failed');
    // The real sandbox names the user's own error and where it happened; the double only the exit.
    expect(outcome.error).toMatchObject({ code: 'script_error' });
    expect(outcome.error?.message).toMatch(
      /^(the script exited with code 1|Error: boom \(line 1, column 25\))$/,
    );
    expect(outcome.result).toMatchObject({ exitCode: 1 });
    expect(context.recorded.some((e) => e.type === 'output' && String(e.data.data).includes('boom'))).toBe(
      true,
    );
    expect(outcome.files?.changes).toEqual([]);
    outcome.files?.close(true);
    expect(sandbox.released).toBe(1);
  });

  it.runIf(name === 'real sandbox')(
    "puts a syntax error's line and column on the execution's error, for the editor to mark",
    async () => {
      const { executor, context } = await setup({ language: 'javascript', code: 'const ok = 1;\nlet x = ;' });
      const outcome = await executor.run(context);
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toEqual({
        code: 'script_error',
        message: "SyntaxError: Unexpected token ';' (line 2, column 9)",
        line: 2,
        column: 9,
      });
      outcome.files?.close(true);
    },
  );

  it.runIf(name === 'real sandbox')(
    'fails a later syntax error as fast as the first, also after a replaced or crashed sandbox process',
    async () => {
      const timings: string[] = [];
      for (const [language, before] of [
        ['javascript', null],
        ['javascript', null],
        // TypeScript's syntax errors come from the type stripping in the worker, not the sandbox.
        ['typescript', null],
        ['typescript', null],
        // Leaves a timer alive: the process is replaced after the run.
        ['javascript', "require('node:timers').setInterval(() => {}, 1000); return 1"],
        // Kills the process: the next run starts a new one.
        ['javascript', "require('node:process').abort()"],
      ] as const) {
        if (before) {
          const first = await setup({ language: 'javascript', code: before });
          (await first.executor.run(first.context)).files?.close(true);
        }
        const { executor, context } = await setup({ language, code: 'let x = ;' });
        const started = performance.now();
        const outcome = await executor.run(context);
        const ms = performance.now() - started;
        outcome.files?.close(true);
        expect(outcome.error).toMatchObject({ code: 'script_error', line: 1, column: 9 });
        timings.push(`${language} after ${before ?? 'nothing'}: ${Math.round(ms)} ms`);
        expect(ms, timings.join('; ')).toBeLessThan(2000);
      }
    },
  );

  it('refuses a language the sandbox does not offer without taking a sandbox', async () => {
    const { executor, context } = await setup({
      language: 'ruby' as ScriptInput['language'],
      code: 'puts 1',
    });
    const outcome = await executor.run(context);
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('unsupported_language');
    expect(outcome.error?.message).toMatch(/'ruby'.*javascript, typescript/);
    expect(sandbox.acquired).toBe(0);
  });

  it('rejects malformed input clearly', async () => {
    const { executor, context } = await setup({ language: 'javascript' } as ScriptInput);
    const outcome = await executor.run(context);
    expect(outcome.error?.code).toBe('invalid_input');
  });

  it('is cancelled through the signal: the call is aborted, the lease released, no files saved', async () => {
    const controller = new AbortController();
    const { executor, context } = await setup(
      {
        language: 'javascript',
        code: `require('fs').writeFileSync('partial.txt', 'x');
console.log('started');
await new Promise(() => setInterval(() => {}, 1000));`,
      },
      { signal: controller.signal },
    );
    const running = executor.run(context);
    await expect
      .poll(() => context.recorded.some((e) => e.type === 'output'), { timeout: 5000, interval: 10 })
      .toBe(true);
    const cancelledAt = performance.now();
    controller.abort(new ExecutionAbortedError('cancelled'));
    const outcome = await running;
    expect(outcome.status).toBe('cancelled');
    expect(performance.now() - cancelledAt).toBeLessThan(1000);
    expect(sandbox.released).toBe(1);
    expect(await store.files.get(context.execution.userId, 'workspace/partial.txt')).toBeNull();
    expect(context.recorded.some((e) => e.type === 'file.changed')).toBe(false);
    // The next run of the user starts from the database's state: the partial file is gone.
    const next = await setup(
      { language: 'javascript', code: `console.log(require('fs').existsSync('partial.txt'))` },
      { userId: context.execution.userId },
    );
    await next.executor.run(next.context);
    expect(next.context.recorded.find((e) => e.type === 'output')?.data.data).toBe('false\n');
  });

  it("ends timed_out when the worker's time limit fires", async () => {
    const controller = new AbortController();
    const { executor, context } = await setup(
      {
        language: 'javascript',
        // A timer keeps the process alive: a bare never-settling await lets Node exit (code 13).
        code: `console.log('busy'); setInterval(() => {}, 1000); await new Promise(() => {});`,
      },
      { signal: controller.signal },
    );
    const running = executor.run(context);
    await expect
      .poll(() => context.recorded.some((e) => e.type === 'output'), { timeout: 5000, interval: 10 })
      .toBe(true);
    controller.abort(new ExecutionAbortedError('timed_out'));
    expect((await running).status).toBe('timed_out');
    expect(sandbox.released).toBe(1);
  });
});
