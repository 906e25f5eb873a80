import type { Services } from '../services.js';

export type CheckResult = 'ok' | 'not_configured' | string;
export interface DependencyChecks {
  database: CheckResult;
  redis: CheckResult;
}

/** Each dependency gets this long to answer; a hung connection counts as down. */
const checkTimeoutMs = 2000;
/** Probes arriving within this window share one round of checks (many replicas × many probes). */
const cacheMs = 1000;

function bounded(work: () => Promise<unknown>, what: string): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve(`${what} did not answer within ${checkTimeoutMs} ms`), checkTimeoutMs);
  });
  const attempt = work().then(
    (): CheckResult => 'ok',
    (err: unknown): CheckResult => `${what}: ${err instanceof Error ? err.message : String(err)}`,
  );
  return Promise.race([attempt, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Really asks the database and Redis (every Redis-backed seam: queue, event log, shared client)
 * whether they answer, at most once a second, and never waits longer than the check timeout.
 */
export function createDependencyProbe(services: Services) {
  let last: { at: number; checks: DependencyChecks } | undefined;
  let running: Promise<DependencyChecks> | undefined;

  const run = async (): Promise<DependencyChecks> => {
    const [database, redis] = await Promise.all([
      bounded(() => services.store.db.ping(), 'database'),
      services.config.redis
        ? bounded(
            () =>
              Promise.all([services.redis?.ping(), services.queue.ping(), services.events.ping()]).then(
                () => undefined,
              ),
            'redis',
          )
        : Promise.resolve<CheckResult>('not_configured'),
    ]);
    return { database, redis };
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

export function healthy(checks: DependencyChecks): boolean {
  return Object.values(checks).every((c) => c === 'ok' || c === 'not_configured');
}

/** The first failing check, for the readiness answer. */
export function firstProblem(checks: DependencyChecks): string | undefined {
  return Object.values(checks).find((c) => c !== 'ok' && c !== 'not_configured');
}
