import { TimeoutError, withTimeout } from './timeout.js';

export type CheckResult = 'ok' | 'not_configured' | string;
export interface DependencyChecks {
  database: CheckResult;
  redis: CheckResult;
}

/** What to ask: each call resolves when the dependency answers. No `redis` = not configured. */
export interface DependencyTargets {
  database: () => Promise<unknown>;
  redis?: () => Promise<unknown>;
}

export interface DependencyProbeOptions {
  /** Each dependency gets this long to answer; a hung connection counts as down. */
  timeoutMs?: number;
  /** Probes arriving within this window share one round of checks (many replicas × many probes). */
  cacheMs?: number;
}

async function bounded(work: () => Promise<unknown>, what: string, timeoutMs: number): Promise<CheckResult> {
  try {
    await withTimeout(work(), timeoutMs, what);
    return 'ok';
  } catch (err) {
    if (err instanceof TimeoutError) return err.message;
    return `${what}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * The one dependency check of a process (API readiness and `/health`, worker readiness and
 * `/health`): really asks each dependency, at most once per `cacheMs`, never waiting longer
 * than `timeoutMs`.
 */
export function createDependencyProbe(targets: DependencyTargets, options: DependencyProbeOptions = {}) {
  const timeoutMs = options.timeoutMs ?? 2000;
  const cacheMs = options.cacheMs ?? 1000;
  let last: { at: number; checks: DependencyChecks } | undefined;
  let running: Promise<DependencyChecks> | undefined;

  const run = async (): Promise<DependencyChecks> => {
    const { redis } = targets;
    const [database, redisCheck] = await Promise.all([
      bounded(targets.database, 'database', timeoutMs),
      redis ? bounded(redis, 'redis', timeoutMs) : Promise.resolve<CheckResult>('not_configured'),
    ]);
    return { database, redis: redisCheck };
  };

  return {
    async check(): Promise<DependencyChecks> {
      if (last && Date.now() - last.at < cacheMs) return last.checks;
      running ??= run()
        .then((checks) => {
          last = { at: Date.now(), checks };
          return checks;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
  };
}

export type DependencyProbe = ReturnType<typeof createDependencyProbe>;

/** A check that says what went wrong (neither `ok` nor `not_configured`). */
export function isProblem(check: CheckResult): boolean {
  return check !== 'ok' && check !== 'not_configured';
}

export function healthy(checks: DependencyChecks): boolean {
  return !Object.values(checks).some(isProblem);
}

/** The first failing check, for the readiness answer. */
export function firstProblem(checks: DependencyChecks): string | undefined {
  return Object.values(checks).find(isProblem);
}
