/** `runTool`: exit codes, every line of both streams in order, the time limit, a tool that is missing. */
import { describe, expect, it } from 'vitest';
import { runTool } from '../../src/sandbox/tool.js';

const env = { PATH: '/usr/bin:/bin' };

describe('runTool', () => {
  it('hands over every line of stdout and stderr, the last one without a newline too', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const script = 'for i in $(seq 1 3000); do echo "err $i" >&2; done; echo out 1; printf "out 2"; exit 3';
    const code = await runTool(['sh', '-c', script], {
      env,
      onStdoutLine: (line) => out.push(line),
      onStderrLine: (line) => err.push(line),
    });
    expect(code).toBe(3);
    expect(out).toEqual(['out 1', 'out 2']);
    expect(err).toHaveLength(3000);
    expect(err[0]).toBe('err 1');
    expect(err.at(-1)).toBe('err 3000');
  });

  it('gives the tool only the environment it is given', async () => {
    const out: string[] = [];
    process.env.IPA_TOOL_TEST_SECRET = 'worker secret';
    try {
      await runTool(['sh', '-c', 'echo "[$IPA_TOOL_TEST_SECRET]"'], {
        env,
        onStdoutLine: (line) => out.push(line),
      });
    } finally {
      delete process.env.IPA_TOOL_TEST_SECRET;
    }
    expect(out).toEqual(['[]']);
  });

  it('kills a tool past its time limit and resolves null', async () => {
    const started = performance.now();
    expect(await runTool(['sleep', '30'], { env, timeoutMs: 200 })).toBeNull();
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('rejects when the tool cannot start', async () => {
    await expect(runTool(['/nonexistent/tool'], { env })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
