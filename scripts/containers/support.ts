/** Shared pieces of the container test (`test.ts`): images, the check log, API helpers. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const tag = process.env.IMAGE_TAG ?? 'test';
export const images = {
  backend: `localhost/ipa-platform/backend:${tag}`,
  worker: `localhost/ipa-platform/worker:${tag}`,
  frontend: `localhost/ipa-platform/frontend:${tag}`,
};
/** The worker built with `--build-arg PYTHON=true`, which must offer and run Python too. */
export const workerPython = `localhost/ipa-platform/worker-python:${tag}`;
/** One script per language that prints 42, and what its finished execution must contain. */
export const scripts: Record<string, string> = {
  javascript: 'console.log(6 * 7); return 6 * 7;',
  typescript: 'const answer: number = 6 * 7;\nconsole.log(answer);\nreturn answer;',
  shell: 'echo $((6 * 7))',
  python: 'print(6 * 7)',
};
export const failures: string[] = [];
export const figures: { metric: string; value: string; goal: string; ok: boolean }[] = [];

export function sh(cmd: string, args: string[], options: { input?: string } = {}): string {
  const result = spawnSync(cmd, args, {
    cwd: repo,
    encoding: 'utf8',
    input: options.input,
    maxBuffer: 64 << 20,
  });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout.trim();
}

export function check(name: string, ok: boolean, detail = ''): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failures.push(name);
}

export function figure(metric: string, value: number, unit: string, goal: number): void {
  figures.push({
    metric,
    value: `${value.toFixed(unit === 'MB' ? 1 : 2)} ${unit}`,
    goal: `< ${goal} ${unit}`,
    ok: value < goal,
  });
}

export async function waitFor(url: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return performance.now() - started;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

export type ExecutionState = { status: string; result?: unknown; error?: unknown; events?: string };

/** Submits a script and waits (≤ 30 s) for its final state. */
export async function submit(
  api: string,
  headers: Record<string, string>,
  language: string,
  source: string,
): Promise<ExecutionState> {
  const created = await fetch(`${api}/executions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ language, code: source }),
  });
  check(
    `${language} execution accepted at ${new URL(api).port}`,
    created.status === 202,
    String(created.status),
  );
  const execution = (await created.json()) as { id: string };
  let state: ExecutionState = { status: 'queued' };
  for (let i = 0; i < 300 && ['queued', 'running'].includes(state.status); i++) {
    await new Promise((r) => setTimeout(r, 100));
    state = (await (await fetch(`${api}/executions/${execution.id}`, { headers })).json()) as ExecutionState;
  }
  // output of shell and Python scripts arrives as events; the stream ends after the terminal one
  const events = await fetch(`${api}/executions/${execution.id}/events`, {
    headers,
    signal: AbortSignal.timeout(10_000),
  }).then(
    (r) => r.text(),
    (error: Error) => `events: ${error.message}`,
  );
  return { ...state, events };
}

export async function offeredLanguages(api: string, headers: Record<string, string>): Promise<string[]> {
  const me = (await (await fetch(`${api}/me`, { headers })).json()) as {
    platform?: { languages?: string[] };
  };
  return me.platform?.languages ?? [];
}

/** Runs the 42-printing script of every offered language; each must succeed and show 42. */
export async function runEveryLanguage(
  execute: (language: string, source: string) => Promise<ExecutionState>,
  languages: string[],
): Promise<void> {
  for (const language of languages) {
    const source = scripts[language];
    if (!source) {
      check(`${language} has a script in this test`, false);
      continue;
    }
    const final = await execute(language, source);
    const { events, ...state } = final;
    const text = JSON.stringify(state);
    check(
      `${language} script runs in the worker image and prints 42`,
      final.status === 'succeeded' && /\b42\b/.test(`${JSON.stringify(state.result)}${events ?? ''}`),
      `${text.slice(0, 300)} ${events?.slice(0, 300)}`,
    );
  }
}
