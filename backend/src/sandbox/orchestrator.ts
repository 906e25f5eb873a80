/**
 * The SandboxOrchestrator: one sandbox process per active user, reused across that user's
 * executions, at most `maxProcesses` alive. Built from small parts: the pool's bookkeeping
 * (`pool.ts`: slots, leases, eviction, limits), the process lifecycle (`launcher.ts`), warm
 * spares (`spares.ts`, `handover.ts`), calls under limits (`calls.ts`) and the lease (`lease.ts`).
 * Crashed, hung or protocol-breaking processes are killed and replaced; the call in them fails
 * with a clear SandboxError.
 */
import path from 'node:path';
import type { SandboxEgress } from '../egress/proxy.js';
import type { Logger } from '../observability/logger.js';
import { maxPathDepth } from '../store/paths.js';
import { sandboxEnvironment } from './environment.js';
import { dataHeadroomMb, detectIsolation, type IsolationReport, languagesAt } from './isolation.js';
import { ProcessLauncher } from './launcher.js';
import { Pool } from './pool.js';
import { locateRuntime } from './runtime-entry.js';
import { assertTraversable } from './traversal.js';
import type { SandboxOrchestrator } from './types.js';

export { sandboxEnvironment } from './environment.js';

export interface SandboxOrchestratorOptions {
  root: string;
  isolation: 'auto' | 'bwrap' | 'process';
  requireIsolation: 'none' | 'bwrap';
  maxProcesses: number;
  idleMs: number;
  acquireTimeoutMs: number;
  memoryMb: number;
  maxOutputBytes: number;
  maxFileBytes: number;
  maxProcs: number;
  userQuotaBytes: number;
  /** Files a user may keep (USER_QUOTA_FILES); the runtime's walks and the quota watcher stop past it. */
  userQuotaFiles?: number;
  /** Disk all users' directories on this worker may take (`SANDBOX_DISK_BUDGET_BYTES`); 0 = none. */
  diskBudgetBytes?: number;
  envAllowlist: readonly string[];
  logger?: Logger;
  /** Where allowlisted variables are read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Health check of idle processes: interval and how long a ping may take. */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** Limit of one fs.* call (a hung runtime is killed after it). */
  callTimeoutMs?: number;
  /** How often the user's disk usage is checked while code runs. */
  quotaCheckMs?: number;
  /** The egress proxy: each sandbox process gets its own socket of it. */
  egress?: SandboxEgress;
  /** The data directory (`DATA_DIR`): named in no message a user sees. */
  dataDir?: string;
  /** uids/gids a root worker gives its live sandboxes, one each (`SANDBOX_UID_RANGE`). */
  uidRange?: { first: number; last: number };
  /** Warm spare processes kept ready for new users and crash replacements (`bwrap` level); 0 = none. */
  warmSpares?: number;
}

export interface ManagedSandboxOrchestrator extends SandboxOrchestrator {
  /** Why this isolation level (what detection found). */
  readonly isolationReason: string;
  /** Host pid of the user's live sandbox process, if any (operations, tests). */
  processIdOf(userId: string): number | undefined;
  /**
   * Every live sandbox runs under a uid of its own (a root worker). When false (a non-root
   * worker, e.g. in a pod) all sandboxes share the worker's uid: at `process` level they can
   * signal each other; at `bwrap` level the pid namespace stops it.
   */
  readonly separateUids: boolean;
  /** The uid of the user's live sandbox, when the pool assigns them (operations, tests). */
  uidOf(userId: string): number | undefined;
  /** Host pids of the warm spares ready now (operations, tests). */
  spareProcessIds(): number[];
}

export async function createSandboxOrchestrator(
  options: SandboxOrchestratorOptions,
): Promise<ManagedSandboxOrchestrator> {
  const report = chooseIsolation(options, await detectIsolation());
  const runtime = await locateRuntime();
  if (process.getuid?.() === 0) {
    await assertTraversable([
      { what: "the sandboxes' root", path: options.root, setting: 'SANDBOX_ROOT (or DATA_DIR)' },
      { what: 'the sandbox runtime', path: runtime.dir },
      { what: 'the Node binary', path: path.dirname(process.execPath) },
    ]);
  }
  const headroom = await dataHeadroomMb(options.memoryMb);
  const languages = languagesAt(report.level);
  const walkLimits = { maxFiles: (options.userQuotaFiles ?? 10_000) + 1, maxDepth: maxPathDepth };
  const launcher = new ProcessLauncher({
    root: options.root,
    report,
    runtime,
    dataHeadroomMb: headroom,
    languages,
    env: sandboxEnvironment(options.envAllowlist, options.env ?? process.env),
    // A file travels base64-encoded inside one line: room for the largest file plus framing.
    maxLineBytes: Math.max(1024 * 1024, Math.ceil((options.maxFileBytes * 4) / 3) + 64 * 1024),
    walkLimits,
    memoryMb: options.memoryMb,
    maxOutputBytes: options.maxOutputBytes,
    maxFileBytes: options.maxFileBytes,
    maxProcs: options.maxProcs,
    userQuotaBytes: options.userQuotaBytes,
    egress: options.egress,
    uidRange: options.uidRange,
  });
  const pool = new Pool(options, report, languages, runtime.dir, launcher, walkLimits);
  // Directories a restarted worker finds count against the budget; measured off the start path.
  void pool.disk.start();
  // Spares start off the start path too; the first users may come before they are ready.
  void pool.spares.start();
  options.logger?.info(
    { isolation: report.level, reason: report.reason, dataHeadroomMb: headroom },
    'sandbox isolation level',
  );
  return pool;
}

/** The level a pool runs at, given what detection found; refuses what the settings forbid. */
export function chooseIsolation(
  options: Pick<SandboxOrchestratorOptions, 'isolation' | 'requireIsolation'>,
  detected: IsolationReport,
): IsolationReport {
  if (options.requireIsolation === 'bwrap' && detected.level !== 'bwrap') {
    throw new Error(`SANDBOX_REQUIRE_ISOLATION=bwrap but bwrap isolation is unavailable: ${detected.reason}`);
  }
  if (options.isolation === 'bwrap' && detected.level !== 'bwrap') {
    throw new Error(`SANDBOX_ISOLATION=bwrap but bwrap isolation is unavailable: ${detected.reason}`);
  }
  if (options.isolation === 'process') {
    if (options.requireIsolation === 'bwrap')
      throw new Error('SANDBOX_ISOLATION=process contradicts SANDBOX_REQUIRE_ISOLATION=bwrap');
    return { level: 'process', reason: 'SANDBOX_ISOLATION=process (fit for trusted code only)' };
  }
  return detected;
}
