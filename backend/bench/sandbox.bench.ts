/**
 * Sandbox: cold start at each isolation level beside a bare `node -e 0` spawn and beside the same
 * runtime wrapped by @anthropic-ai/sandbox-runtime (srt); warm no-op `code.run` round trip; crash
 * recovery; reuse ratio under a steady multi-user load; memory per idle sandbox process.
 * With warm spares (bwrap): a new user's first call and crash recovery, with and without spares.
 * Run: `npx tsx backend/bench/sandbox.bench.ts` (`BENCH_SANDBOX_SECTION=spares`: those rows only).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createSandboxOrchestrator,
  ensureUserDirectory,
  type IsolationLevel,
  type ManagedSandboxOrchestrator,
  type SandboxOrchestratorOptions,
} from '../src/sandbox/index.js';
import { defaultOwner, detectIsolation, sandboxCommand } from '../src/sandbox/isolation.js';
import { SandboxProcess } from '../src/sandbox/process.js';
import { locateRuntime } from '../src/sandbox/runtime-entry.js';
import { type BenchRow, type BenchTable, isMain, ms, percentile, runAlone } from './lib.js';

const coldSamples = Number(process.env.BENCH_SANDBOX_COLD ?? 20);
const warmSamples = Number(process.env.BENCH_SANDBOX_WARM ?? 1000);
const srtSamples = Number(process.env.BENCH_SANDBOX_SRT ?? 5);
const spareSamples = Number(process.env.BENCH_SANDBOX_SPARES ?? 40);
/** `spares`: only the warm-spare rows and the bare node baseline (the rest takes minutes). */
const section = process.env.BENCH_SANDBOX_SECTION ?? 'all';

function options(
  root: string,
  isolation: IsolationLevel,
  overrides: Partial<SandboxOrchestratorOptions> = {},
): SandboxOrchestratorOptions {
  return {
    root,
    isolation,
    requireIsolation: 'none',
    maxProcesses: 16,
    idleMs: 300_000,
    acquireTimeoutMs: 30_000,
    memoryMb: 512,
    maxOutputBytes: 1024 * 1024,
    maxFileBytes: 50 * 1024 * 1024,
    maxProcs: 64,
    userQuotaBytes: 1024 * 1024 * 1024,
    envAllowlist: ['LANG', 'TZ'],
    ...overrides,
  };
}

function settingsJson(root: string): string {
  return JSON.stringify({
    root,
    maxFileBytes: 50 * 1024 * 1024,
    maxOutputBytes: 1024 * 1024,
    quotaBytes: 1024 * 1024 * 1024,
    maxLineBytes: 70 * 1024 * 1024,
    languages: ['javascript'],
    ownPidNamespace: false,
  });
}

/** Spawn → first ping answer of one sandbox process built exactly as the orchestrator builds it. */
async function coldStart(
  level: IsolationLevel,
  root: string,
  bwrapPath: string | undefined,
): Promise<number> {
  const runtime = await locateRuntime();
  const userDir = await ensureUserDirectory(root, randomUUID(), defaultOwner());
  const command = sandboxCommand({
    level,
    bwrapPath,
    runtime,
    userDir,
    owner: defaultOwner(),
    limits: { memoryMb: 512, maxFileBytes: 50 * 1024 * 1024, maxProcs: 64, openFiles: 256 },
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
    settings: settingsJson,
  });
  const started = performance.now();
  const proc = new SandboxProcess({
    ...command,
    maxLineBytes: 70 * 1024 * 1024,
    maxOutputBytes: 1024 * 1024,
  });
  await proc.call('ping', {}).result;
  const elapsed = performance.now() - started;
  await proc.stop(1000);
  return elapsed;
}

/** Spawn → exit of a bare `node -e 0`: the floor any Node-based sandbox starts from. */
function bareNode(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - started));
  });
}

/** The same runtime process wrapped by srt: spawn → first ping answer. */
async function srtStart(root: string): Promise<number | string> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const srt = path.resolve(here, '../../node_modules/.bin/srt');
  if (!fs.existsSync(srt)) return 'not installed (@anthropic-ai/sandbox-runtime)';
  const runtime = await locateRuntime();
  const userDir = await ensureUserDirectory(root, randomUUID());
  const started = performance.now();
  const proc = new SandboxProcess({
    command: srt,
    args: [process.execPath, runtime.file, settingsJson(userDir)],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() },
    maxLineBytes: 70 * 1024 * 1024,
    maxOutputBytes: 1024 * 1024,
  });
  const timer = setTimeout(() => proc.kill(), 20_000);
  try {
    await proc.call('ping', {}).result;
    return performance.now() - started;
  } catch (error) {
    return `cannot run here: ${(error as Error).message.slice(0, 160)}`;
  } finally {
    clearTimeout(timer);
    await proc.stop(1000);
  }
}

async function samples(n: number, measure: () => Promise<number>): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(await measure());
  return values;
}

const p = (values: number[], q: number) => ms(percentile(values, q));

async function warmRoundTrip(pool: ManagedSandboxOrchestrator): Promise<{ run: number[]; ping: number[] }> {
  const lease = await pool.acquire(randomUUID());
  try {
    const noop = { language: 'javascript' as const, code: '', timeoutMs: 5000 };
    for (let i = 0; i < 100; i++) await lease.run(noop);
    const run: number[] = [];
    for (let i = 0; i < warmSamples; i++) {
      const started = performance.now();
      await lease.run(noop);
      run.push(performance.now() - started);
    }
    const ping: number[] = [];
    for (let i = 0; i < warmSamples; i++) {
      const started = performance.now();
      await lease.list('outputs');
      ping.push(performance.now() - started);
    }
    return { run, ping };
  } finally {
    lease.release();
  }
}

/** Kill the leased sandbox → the replacement has answered (a no-op run succeeds). */
async function crashRecovery(pool: ManagedSandboxOrchestrator, n: number): Promise<number[]> {
  const user = randomUUID();
  const lease = await pool.acquire(user);
  const values: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      await lease.run({ language: 'javascript', code: '', timeoutMs: 5000 });
      const pid = pool.processIdOf(user) as number;
      const started = performance.now();
      process.kill(pid, 'SIGKILL');
      for (;;) {
        const now = pool.processIdOf(user);
        if (now !== undefined && now !== pid) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      await lease.run({ language: 'javascript', code: '', timeoutMs: 5000 });
      values.push(performance.now() - started);
    }
  } finally {
    lease.release();
  }
  return values;
}

const until = async (ok: () => boolean): Promise<void> => {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
};

/**
 * A new user's first call: acquire → no-op `code.run` answered. With spares, each sample starts
 * once a spare is ready again (the steady state between arrivals; the refill is not timed).
 */
async function firstCall(pool: ManagedSandboxOrchestrator, n: number, spares: boolean): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    if (spares) await until(() => pool.figures().sparesReady > 0);
    const started = performance.now();
    const lease = await pool.acquire(randomUUID());
    await lease.run({ language: 'javascript', code: '', timeoutMs: 5000 });
    values.push(performance.now() - started);
    lease.release();
  }
  return values;
}

/**
 * Kill the leased sandbox → the next call answers on the replacement (a spare when ready), and
 * the two parts of it: until the worker sees the sandbox gone (its processes torn down, its pipes
 * closed), and from then until the replacement answers.
 */
async function crashRecoveryWithSpares(
  pool: ManagedSandboxOrchestrator,
  n: number,
  spares: boolean,
): Promise<{ total: number[]; exitSeen: number[]; replacement: number[] }> {
  const user = randomUUID();
  const lease = await pool.acquire(user);
  const values = { total: [] as number[], exitSeen: [] as number[], replacement: [] as number[] };
  try {
    for (let i = 0; i < n; i++) {
      await lease.run({ language: 'javascript', code: '', timeoutMs: 5000 });
      // The steady state: every spare ready, none starting. A spare still booting (the refill
      // after the previous sample's hand-over) would take one of the two cores from the crash.
      if (spares) await until(() => pool.figures().sparesStarting === 0 && pool.figures().sparesReady > 0);
      const pid = pool.processIdOf(user) as number;
      const started = performance.now();
      process.kill(pid, 'SIGKILL');
      // Until the worker has seen the exit, a call would go to the dying process and fail.
      while (pool.processIdOf(user) === pid) await new Promise((r) => setImmediate(r));
      const seen = performance.now();
      await lease.run({ language: 'javascript', code: '', timeoutMs: 5000 });
      const answered = performance.now();
      values.total.push(answered - started);
      values.exitSeen.push(seen - started);
      values.replacement.push(answered - seen);
    }
  } finally {
    lease.release();
  }
  return values;
}

async function spareRows(root: string, bare: number[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const bareP50 = percentile(bare, 50);
  const ratio = (values: number[]) => `${(percentile(values, 50) / bareP50).toFixed(2)}× bare node`;
  for (const spares of [0, 2]) {
    const pool = await createSandboxOrchestrator(
      options(root, 'bwrap', { warmSpares: spares, maxProcesses: spareSamples + 8 }),
    );
    try {
      await firstCall(pool, 3, spares > 0);
      const first = await firstCall(pool, spareSamples, spares > 0);
      rows.push({
        metric: `new user's first call (acquire → no-op run), bwrap, ${spares} spares, p50 / p99`,
        ours: `${p(first, 50)} / ${p(first, 99)}`,
        baseline: ratio(first),
        goal: spares ? '≤ 10 ms p50' : '—',
      });
    } finally {
      await pool.shutdown();
    }
    const crashPool = await createSandboxOrchestrator(options(root, 'bwrap', { warmSpares: spares }));
    try {
      const crash = await crashRecoveryWithSpares(crashPool, spareSamples, spares > 0);
      rows.push(
        {
          metric: `crash recovery (kill → next call answers), bwrap, ${spares} spares, p50 / p99`,
          ours: `${p(crash.total, 50)} / ${p(crash.total, 99)}`,
          baseline: ratio(crash.total),
          goal: spares ? '≤ 10 ms p50' : '—',
        },
        {
          metric: '… of which kill → the worker sees the sandbox gone, p50',
          ours: p(crash.exitSeen, 50),
          baseline: '—',
          goal: '—',
        },
        {
          metric: '… of which sandbox gone → the replacement answers, p50',
          ours: p(crash.replacement, 50),
          baseline: '—',
          goal: '—',
        },
      );
    } finally {
      await crashPool.shutdown();
    }
  }
  return rows;
}

/** 8 users, 4 concurrent callers, 1000 executions after each user's first: share served warm. */
async function reuseRatio(pool: ManagedSandboxOrchestrator): Promise<number> {
  const users = Array.from({ length: 8 }, () => randomUUID());
  const execute = async (user: string) => {
    const lease = await pool.acquire(user);
    try {
      await lease.run({ language: 'javascript', code: 'return 1', timeoutMs: 5000 });
    } finally {
      lease.release();
    }
  };
  // A fresh pool: the ratio's denominator counts only the acquisitions made here.
  if (pool.figures().starts !== 0) throw new Error('reuseRatio needs a fresh pool');
  await Promise.all(users.map(execute));
  const warm1 = pool.figures().reuseRatio * users.length;
  let next = 0;
  const total = 1000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < total) {
        next++;
        await execute(users[Math.floor(Math.random() * users.length)] as string);
      }
    }),
  );
  const warm2 = pool.figures().reuseRatio * (users.length + total);
  return (warm2 - warm1) / total;
}

/** Resident memory of a process tree (bwrap + its init + Node, or Node alone), from /proc. */
function treeRssBytes(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const current = stack.pop() as number;
    try {
      const status = fs.readFileSync(`/proc/${current}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      for (const task of fs.readdirSync(`/proc/${current}/task`)) {
        const children = fs.readFileSync(`/proc/${current}/task/${task}/children`, 'utf8').trim();
        if (children) stack.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

async function idleNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise((r) => child.stdout.once('data', r));
  await new Promise((r) => setTimeout(r, 200));
  const rss = treeRssBytes(child.pid as number);
  child.kill('SIGKILL');
  return rss;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export async function run(): Promise<BenchTable> {
  const rows: BenchRow[] = [];
  const report = await detectIsolation();
  const levels: IsolationLevel[] = report.level === 'bwrap' ? ['bwrap', 'process'] : ['process'];
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ipa-sandbox-bench-'));
  fs.chmodSync(base, 0o711);
  const root = path.join(base, 'root');
  try {
    await locateRuntime();
    await samples(3, bareNode);
    const bare = await samples(coldSamples, bareNode);
    rows.push({
      metric: 'bare `node -e 0` spawn → exit p50 / p95',
      ours: '—',
      baseline: `${p(bare, 50)} / ${p(bare, 95)}`,
      goal: '—',
    });
    if (report.level === 'bwrap') rows.push(...(await spareRows(root, bare)));
    if (section === 'spares') return { title: 'Sandbox (warm spares)', rows };
    for (const level of levels) {
      await coldStart(level, root, report.bwrapPath);
      const cold = await samples(coldSamples, () => coldStart(level, root, report.bwrapPath));
      rows.push({
        metric: `cold start (spawn → first ping), ${level} p50 / p95`,
        ours: `${p(cold, 50)} / ${p(cold, 95)}`,
        baseline: `bare node ${p(bare, 50)}`,
        goal: `≤ ${ms(percentile(bare, 50) + 15)}`,
      });
    }
    const srt: Array<number | string> = [];
    for (let i = 0; i < srtSamples; i++) {
      const value = await srtStart(root);
      srt.push(value);
      if (typeof value === 'string') break;
    }
    const srtNumbers = srt.filter((v): v is number => typeof v === 'number');
    rows.push({
      metric: 'cold start wrapped by srt (@anthropic-ai/sandbox-runtime 0.0.60) p50 / p95',
      ours: '—',
      baseline:
        srtNumbers.length === srt.length
          ? `${p(srtNumbers, 50)} / ${p(srtNumbers, 95)}`
          : String(srt.find((v) => typeof v === 'string')),
      goal: '—',
    });
    for (const level of levels) {
      const pool = await createSandboxOrchestrator(options(root, level));
      try {
        const warm = await warmRoundTrip(pool);
        rows.push({
          metric: `warm no-op code.run round trip, ${level} p50 / p99`,
          ours: `${p(warm.run, 50)} / ${p(warm.run, 99)}`,
          baseline: `fs.list RPC ${p(warm.ping, 50)} / ${p(warm.ping, 99)}`,
          goal: '≤ 1 ms / ≤ 5 ms',
        });
        const crash = await crashRecovery(pool, 10);
        rows.push({
          metric: `crash recovery (kill → replacement answers), ${level} p50`,
          ours: p(crash, 50),
          baseline: '—',
          goal: '≤ 100 ms',
        });
      } finally {
        await pool.shutdown();
      }
      const loadPool = await createSandboxOrchestrator(options(root, level));
      try {
        const ratio = await reuseRatio(loadPool);
        rows.push({
          metric: `reuse ratio, 8 users × 1000 calls, ${level}`,
          ours: `${(ratio * 100).toFixed(2)} %`,
          baseline: '—',
          goal: '≥ 99 %',
        });
        const user = randomUUID();
        (await loadPool.acquire(user)).release();
        await new Promise((r) => setTimeout(r, 300));
        rows.push({
          metric: `memory per idle sandbox (RSS of its process tree), ${level}`,
          ours: mb(treeRssBytes(loadPool.processIdOf(user) as number)),
          baseline: `idle bare node ${mb(await idleNodeRss())}`,
          goal: '—',
        });
      } finally {
        await loadPool.shutdown();
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  return { title: 'Sandbox (orchestrator and sandbox processes)', rows };
}

if (isMain(import.meta.url)) await runAlone(run);
