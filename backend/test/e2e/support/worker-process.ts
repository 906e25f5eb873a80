import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const built = path.join(backendDir, 'dist/main.js');
const source = path.join(backendDir, 'src/main.ts');
const tsxCli = path.resolve(backendDir, '../node_modules/tsx/dist/cli.mjs');

export interface WorkerProcess {
  child: ChildProcess;
  /** The worker id it announced on start. */
  workerId: string;
  output: () => string;
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `ipa worker` as its own OS process: the built CLI when `backend/dist` exists, else the
 * sources through tsx. Resolves once the worker has announced itself.
 */
export async function spawnWorker(env: Record<string, string>, timeoutMs = 30_000): Promise<WorkerProcess> {
  const useBuild = fs.existsSync(built) && process.env.IPA_TEST_FROM_SOURCE !== '1';
  const args = useBuild ? [built, 'worker'] : [tsxCli, source, 'worker'];
  const child = spawn(process.execPath, args, {
    cwd: path.resolve(backendDir, '..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', ...env },
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
    const match = /worker (\S+) \(isolation/.exec(output);
    if (match?.[1]) return { child, workerId: match[1], output: () => output, exited };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`worker process did not start:\n${output}`);
}
