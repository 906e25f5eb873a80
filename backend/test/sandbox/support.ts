import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  type CodeRunResult,
  createSandboxOrchestrator,
  detectIsolation,
  type IsolationLevel,
  type ManagedSandboxOrchestrator,
  type SandboxEvent,
  type SandboxOrchestratorOptions,
  type ScriptLanguage,
} from '../../src/sandbox/index.js';

/** Secrets a worker holds; the suite proves none of them reaches a sandbox. */
export const workerSecrets = {
  DATABASE_URL: 'postgres://ipa:secret-db-password-7f3a@127.0.0.1:5432/ipa',
  REDIS_URL: 'redis://:secret-redis-password-91c2@127.0.0.1:6379/0',
  ANTHROPIC_API_KEY: 'sk-secret-anthropic-5d9e',
  OPENAI_API_KEY: 'sk-secret-openai-c41b',
};
export const secretValues = Object.values(workerSecrets);

export function plantWorkerSecrets(): void {
  Object.assign(process.env, workerSecrets);
}

/** Levels this machine offers: bwrap (when it works here) and always process. */
export async function availableLevels(): Promise<IsolationLevel[]> {
  const report = await detectIsolation();
  return report.level === 'bwrap' ? ['bwrap', 'process'] : ['process'];
}

export async function makeRoot(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ipa-sandbox-test-'));
  // A root worker hands user directories to an unprivileged uid, which must traverse this one.
  await fs.chmod(dir, 0o711);
  return path.join(dir, 'root');
}

export async function removeRoot(root: string): Promise<void> {
  await fs.rm(path.dirname(root), { recursive: true, force: true });
}

export function testOptions(
  root: string,
  level: IsolationLevel,
  overrides: Partial<SandboxOrchestratorOptions> = {},
): SandboxOrchestratorOptions {
  return {
    root,
    isolation: level,
    requireIsolation: 'none',
    maxProcesses: 4,
    idleMs: 60_000,
    acquireTimeoutMs: 10_000,
    memoryMb: 192,
    maxOutputBytes: 64 * 1024,
    maxFileBytes: 1024 * 1024,
    maxProcs: 32,
    userQuotaBytes: 4 * 1024 * 1024,
    // Secrets listed by mistake must still be kept out.
    envAllowlist: ['LANG', 'TZ', 'DATABASE_URL', 'ANTHROPIC_API_KEY'],
    callTimeoutMs: 10_000,
    ...overrides,
  };
}

export function createPool(
  root: string,
  level: IsolationLevel,
  overrides: Partial<SandboxOrchestratorOptions> = {},
): Promise<ManagedSandboxOrchestrator> {
  return createSandboxOrchestrator(testOptions(root, level, overrides));
}

export const newUserId = (): string => randomUUID();

export interface RunOutcome {
  result: CodeRunResult;
  stdout: string;
  stderr: string;
  events: SandboxEvent[];
}

/** One code run in a lease of its own, output collected. */
export async function runIn(
  pool: ManagedSandboxOrchestrator,
  userId: string,
  code: string,
  options: { language?: ScriptLanguage; input?: unknown; timeoutMs?: number } = {},
): Promise<RunOutcome> {
  const lease = await pool.acquire(userId);
  const events: SandboxEvent[] = [];
  try {
    const result = await lease.run(
      {
        language: options.language ?? 'javascript',
        code,
        input: options.input,
        timeoutMs: options.timeoutMs ?? 5000,
      },
      { onEvent: (event) => events.push(event) },
    );
    const text = (stream: 'stdout' | 'stderr') =>
      events
        .filter(
          (e): e is Extract<SandboxEvent, { kind: 'output' }> => e.kind === 'output' && e.stream === stream,
        )
        .map((e) => e.data)
        .join('');
    return { result, stdout: text('stdout'), stderr: text('stderr'), events };
  } finally {
    lease.release();
  }
}

/** Runs `code` and returns what it returned (JSON), failing the test if the run itself failed. */
export async function evaluate(
  pool: ManagedSandboxOrchestrator,
  userId: string,
  code: string,
  input?: unknown,
): Promise<unknown> {
  const outcome = await runIn(pool, userId, code, { input });
  if (outcome.result.exitCode !== 0)
    throw new Error(`run failed (${outcome.result.exitCode}): ${outcome.stderr}`);
  return outcome.result.result;
}
