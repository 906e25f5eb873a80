import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const built = path.join(backendDir, 'dist/main.js');
const source = path.join(backendDir, 'src/main.ts');

export interface PlatformProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface WorkerProcess extends PlatformProcess {
  /** The worker id it announced on start. */
  workerId: string;
}

export interface ApiProcess extends PlatformProcess {
  url: string;
}

/**
 * Starts one `ipa <command>` as its own OS process: the built CLI when `backend/dist` exists,
 * else the sources through tsx. Resolves once `ready` finds what it waits for.
 */
async function spawnCli<T>(
  command: 'worker' | 'api',
  env: Record<string, string>,
  ready: (output: string) => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<PlatformProcess & { ready: T }> {
  const useBuild = fs.existsSync(built) && process.env.IPA_TEST_FROM_SOURCE !== '1';
  // e.g. IPA_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile under a benchmark.
  const nodeArgs = process.env.IPA_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // From source, tsx is a loader inside this one node process (resolved from the cwd, the
  // repository), not its CLI: the CLI runs the code in a child, and a test's SIGKILL would reach
  // only the CLI and leave the platform process running.
  const fromSource = ['--import', 'tsx', source, command];
  const args = [...nodeArgs, ...(useBuild ? [built, command] : fromSource)];
  const child = spawn(process.execPath, args, {
    cwd: path.resolve(backendDir, '..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await ready(output);
    if (found !== undefined) return { child, output: () => output, exited, ready: found };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`ipa ${command} did not start:\n${output}`);
}

/** `ipa worker` in its own process; resolves once the worker has announced itself. */
export async function spawnWorker(env: Record<string, string>, timeoutMs = 30_000): Promise<WorkerProcess> {
  const started = await spawnCli(
    'worker',
    { PORT: '0', ...env },
    (out) => /worker (\S+) \(isolation/.exec(out)?.[1],
    timeoutMs,
  );
  return { ...started, workerId: started.ready };
}

/** `ipa api` in its own process on `port`; resolves once `/health/ready` answers 200. */
export async function spawnApi(
  env: Record<string, string>,
  port: number,
  timeoutMs = 30_000,
): Promise<ApiProcess> {
  const url = `http://127.0.0.1:${port}`;
  const started = await spawnCli(
    'api',
    { ...env, PORT: String(port), HOST: '127.0.0.1' },
    async () => {
      const response = await fetch(`${url}/health/ready`).catch(() => null);
      return response?.status === 200 ? true : undefined;
    },
    timeoutMs,
  );
  return { ...started, url };
}
