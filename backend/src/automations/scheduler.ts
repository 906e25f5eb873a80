import type { Logger } from '../observability/logger.js';
import type {
  DueSchedule,
  Execution,
  ExecutionError,
  NewExecution,
  Repositories,
  RunOrigin,
  Store,
} from '../store/types.js';
import { nextFireTime, previousFireTime } from './cron.js';
import { prepareInput } from './input.js';

/**
 * Fires schedules. Every API replica (and the standalone process) runs one; the database decides
 * which of them fires a tick: a schedule row holds the one tick it waits for (`next_fire_at`), and
 * a replica fires it only by moving it on with a compare-and-set (`claim`) in the same transaction
 * that writes the run, so each tick gives exactly one run — or one `skipped` record saying why
 * not — however many replicas saw it due. A unique index on (schedule, tick) backs this up.
 */

/**
 * Admission of a new execution (the API's `submitExecution`): `create` runs inside the admission
 * transaction, `admit` inserts the execution under the user's concurrency limit; then the
 * submission is announced and enqueued.
 */
export type Submit = (
  userId: string,
  create: (
    tx: Repositories,
    admit: (execution: NewExecution) => Promise<Execution>,
  ) => Promise<{ execution: Execution; extra: null }>,
) => Promise<{ execution: Execution; extra: null }>;

export interface SchedulerOptions {
  store: Store;
  logger: Logger;
  submit: Submit;
  /** Whether an error thrown by `submit` means "the user's limit is full" (recorded as skipped). */
  isLimitReached: (err: unknown) => boolean;
  /** A tick later than this when first seen was missed (nobody ran): the catch-up policy decides. */
  misfireMs?: number;
  /** Longest sleep between looks at the database (schedules changed on another replica). */
  maxSleepMs?: number;
}

export interface Scheduler {
  start(): void;
  stop(): Promise<void>;
  /** Look again now (a schedule was created or changed on this replica). */
  wake(): void;
  /** An automation was enabled (ticks computed from now on) or disabled (ticks cleared). */
  automationToggled(userId: string, automationId: string, enabled: boolean): Promise<void>;
  /** Fires what is due now; the loop calls it, tests may too. */
  runDue(): Promise<number>;
}

/** Another replica took the tick first. */
class TickTaken extends Error {}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { store, submit, isLimitReached } = options;
  const logger = options.logger.child({ component: 'scheduler' });
  const misfireMs = options.misfireMs ?? 5000;
  const maxSleepMs = options.maxSleepMs ?? 1000;
  let running: Promise<void> | undefined;
  let stopped = true;
  let wakeUp: (() => void) | undefined;

  /** The tick to act on now, whether it was missed, and the tick after it. */
  function plan(schedule: DueSchedule, now: number) {
    const due = new Date(schedule.nextFireAt as string);
    if (now - due.getTime() <= misfireMs) {
      return { tick: due, missed: 0, next: nextFireTime(schedule.cron, schedule.timeZone, due) };
    }
    // Every tick from `due` up to the newest one that is itself missed went unfired.
    const lastMissed = previousFireTime(schedule.cron, schedule.timeZone, new Date(now - misfireMs)) ?? due;
    let missed = 1;
    for (let t = due; missed < 1000; missed++) {
      const following = nextFireTime(schedule.cron, schedule.timeZone, t);
      if (!following || following.getTime() > lastMissed.getTime()) break;
      t = following;
    }
    return { tick: lastMissed, missed, next: nextFireTime(schedule.cron, schedule.timeZone, lastMissed) };
  }

  async function fire(schedule: DueSchedule): Promise<void> {
    const expected = schedule.nextFireAt as string;
    const { tick, missed, next } = plan(schedule, Date.now());
    const nextIso = next ? next.toISOString() : null;
    const origin: RunOrigin = {
      automationId: schedule.automationId,
      automationVersion: schedule.version,
      trigger: 'schedule',
      triggerId: schedule.id,
      scheduledFor: tick.toISOString(),
    };
    const script = { language: schedule.language, code: schedule.code };
    const record = (skipped: ExecutionError) =>
      store.transaction(async (tx) => {
        if (!(await tx.schedules.claim(schedule.id, expected, nextIso))) return;
        await tx.executions.create({
          userId: schedule.userId,
          kind: 'script',
          input: script,
          origin,
          skipped,
        });
      });

    if (missed > 0 && schedule.catchUp === 'skip') {
      return record({
        code: 'missed',
        message: `${missed >= 1000 ? 'At least 1000' : missed} tick(s) up to this one passed while no scheduler was running; catch-up is "skip".`,
      });
    }
    const prepared = prepareInput(schedule.inputSchema, schedule.input ?? undefined, 'input');
    if (!prepared.ok) {
      const first = prepared.problems[0];
      return record({
        code: 'invalid_input',
        message: `The schedule's input no longer matches the automation's schema: ${first?.path}: ${first?.message}`,
      });
    }
    if (schedule.overlap === 'skip' && (await store.executions.countActiveForTrigger(schedule.id)) > 0) {
      return record({ code: 'overlap', message: 'The previous run of this schedule was still active.' });
    }
    const input = prepared.input === undefined ? script : { ...script, input: prepared.input };
    try {
      // The tick is claimed in the admission transaction: refused past the limit, the claim rolls
      // back with it and the tick is recorded as skipped below.
      await submit(schedule.userId, async (tx, admit) => {
        if (!(await tx.schedules.claim(schedule.id, expected, nextIso))) throw new TickTaken();
        const execution = await admit({ userId: schedule.userId, kind: 'script', input, origin });
        return { execution, extra: null };
      });
    } catch (err) {
      if (err instanceof TickTaken) return;
      if (isLimitReached(err)) {
        return record({ code: 'too_many_executions', message: (err as Error).message });
      }
      // Queue or database trouble: the tick stays due and is tried again (or counted missed).
      throw err;
    }
  }

  async function runDue(): Promise<number> {
    let fired = 0;
    for (;;) {
      const due = await store.schedules.due(new Date(), 50);
      if (due.length === 0) return fired;
      // Side by side: one slow admission must not make the other schedules of this tick late.
      const results = await Promise.allSettled(due.map(fire));
      fired += results.filter((r) => r.status === 'fulfilled').length;
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        logger.warn({ err: failed.reason }, 'could not fire a schedule; trying again shortly');
        return fired;
      }
    }
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      let sleepMs = maxSleepMs;
      try {
        await runDue();
        const next = await store.schedules.nextTick();
        if (next) sleepMs = Math.min(maxSleepMs, Math.max(0, Date.parse(next) - Date.now()));
      } catch (err) {
        logger.warn({ err }, 'scheduler could not read schedules');
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, sleepMs);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      running = loop();
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await running;
    },
    wake() {
      wakeUp?.();
    },
    async automationToggled(userId, automationId, enabled) {
      const schedules = (await store.schedules.list(userId, automationId)) ?? [];
      const now = new Date();
      const ticks = new Map(
        schedules.map((s) => [
          s.id,
          enabled ? (nextFireTime(s.cron, s.timeZone, now)?.toISOString() ?? null) : null,
        ]),
      );
      await store.schedules.setNextTicks(automationId, ticks);
      wakeUp?.();
    },
    runDue,
  };
}
