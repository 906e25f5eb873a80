import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiError } from '../../src/api/errors.js';
import { createSubmitter, type SubmissionStep } from '../../src/api/routes/executions/submit.js';
import type { FileWriteBack } from '../../src/engine/index.js';
import type { EventLog, ExecutionEvent } from '../../src/events/types.js';
import type { ExecutionQueue, JobHandler } from '../../src/queue/types.js';
import type { Services } from '../../src/services.js';
import type { Execution, ScriptInput, User } from '../../src/store/index.js';
import {
  abortCodeOf,
  type Executor,
  startWorkerRuntime,
  type WorkerRuntime,
  type WorkerRuntimeOptions,
} from '../../src/worker/index.js';

/**
 * The worker runtime's behaviour, run against both kinds of services (in-process and
 * PostgreSQL + Redis). Executions are scripts whose "code" is an instruction to the test executor.
 */
export interface ScenarioServices {
  services: Services;
  cleanup(): Promise<void>;
}

/** Waits `ms` unless the signal fires first, in which case it rejects with the signal's reason. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** How each `write` instruction's write-back was closed, by execution id. */
export const writeBacksClosed = new Map<string, boolean[]>();

/**
 * Instructions: `ok:<result>`, `sleep:<ms>`, `hang` (ignores its signal), `throw`, `fail`,
 * `write:<path>=<content>[=<quota bytes>]` (hands the worker a changed file to store).
 */
export const testExecutor: Executor = {
  kind: 'script',
  async run(context) {
    const [verb, argument = ''] = (context.execution.input as ScriptInput).code.split(':');
    await context.emit('output', { stream: 'stdout', data: `${verb} started\n` });
    switch (verb) {
      case 'ok':
        return { status: 'succeeded', result: { echo: argument } };
      case 'sleep':
        await wait(Number(argument), context.signal);
        await context.emit('output', { stream: 'stdout', data: 'slept\n' });
        return { status: 'succeeded', result: { slept: Number(argument), attempt: context.attempt } };
      case 'hang':
        await new Promise(() => {});
        return { status: 'succeeded' };
      case 'throw':
        throw new Error('secret internal detail');
      case 'fail':
        return { status: 'failed', error: { code: 'script_error', message: 'exit status 3' } };
      case 'write': {
        const [path = '', content = '', quota = '1000000'] = argument.split('=');
        const closed: boolean[] = [];
        writeBacksClosed.set(context.execution.id, closed);
        const files: FileWriteBack = {
          userId: context.execution.userId,
          quotaBytes: Number(quota),
          writes: [{ path, content: Buffer.from(content) }],
          deletes: [],
          changes: [{ path, change: 'created', size: content.length }],
          // Closing is idempotent: only the first close counts.
          close: (stored) => void (closed.length === 0 && closed.push(stored)),
        };
        return { status: 'succeeded', result: { wrote: path }, files };
      }
      default:
        throw new Error(`unknown instruction ${verb}`);
    }
  },
};

export function describeRuntimeScenarios(name: string, makeServices: () => Promise<ScenarioServices>): void {
  describe(`worker runtime (${name})`, () => {
    let made: ScenarioServices;
    let services: Services;
    let user: User;
    const runtimes: WorkerRuntime[] = [];

    beforeAll(async () => {
      made = await makeServices();
      services = made.services;
      user = await services.store.users.create({ name: 'runtime-test' });
    });
    afterEach(async () => {
      await Promise.all(runtimes.splice(0).map((r) => r.stop(0)));
    });
    afterAll(async () => {
      await made?.cleanup();
    });

    function start(options: Partial<WorkerRuntimeOptions> = {}): WorkerRuntime {
      const runtime = startWorkerRuntime({
        services,
        executors: [testExecutor],
        timing: { heartbeatMs: 100, cancelPollMs: 100 },
        ...options,
      });
      runtimes.push(runtime);
      return runtime;
    }

    async function submit(code: string, queue: ExecutionQueue = services.queue): Promise<Execution> {
      const execution = await services.store.executions.create({
        userId: user.id,
        kind: 'script',
        input: { language: 'javascript', code },
      });
      await queue.enqueue({ executionId: execution.id, userId: user.id, kind: 'script' });
      return execution;
    }

    /** Reads the stream until its terminal event (or the time runs out). */
    async function eventsUntilTerminal(id: string, timeoutMs = 10_000): Promise<ExecutionEvent[]> {
      const seen: ExecutionEvent[] = [];
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const batch = await services.events.read(id, seen.at(-1)?.id, { blockMs: 200 });
        seen.push(...batch);
        if (
          seen.some((e) =>
            ['execution.completed', 'execution.failed', 'execution.cancelled'].includes(e.type),
          )
        )
          return seen;
      }
      throw new Error(
        `no terminal event for ${id} within ${timeoutMs} ms: ${seen.map((e) => e.type).join(', ')}`,
      );
    }

    async function waitForStatus(id: string, status: string, timeoutMs = 10_000): Promise<Execution> {
      return vi.waitFor(
        async () => {
          const execution = await services.store.executions.get(id);
          if (execution?.status === status) return execution;
          throw new Error(`execution ${id} is ${execution?.status}, not ${status}`);
        },
        { timeout: timeoutMs, interval: 25 },
      );
    }

    /** Waits until the queue is done with the execution's job: no delivery of it is left to come. */
    async function jobFinished(id: string): Promise<void> {
      await expect
        .poll(() => services.queue.jobState(id), { timeout: 10_000, interval: 25 })
        .toBe('finished');
    }

    const terminal = (events: ExecutionEvent[]) =>
      events.filter((e) =>
        ['execution.completed', 'execution.failed', 'execution.cancelled'].includes(e.type),
      );

    it('runs an execution: running, events in order, one terminal event, metrics', async () => {
      const runtime = start();
      const execution = await submit('ok:hello');
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).toEqual(['execution.started', 'output', 'execution.completed']);
      expect(events[0]?.data).toEqual({ attempt: 1, workerId: runtime.workerId });
      expect(events[1]?.data).toEqual({ stream: 'stdout', data: 'ok started\n', attempt: 1 });
      expect(events[2]?.data).toMatchObject({ status: 'succeeded', result: { echo: 'hello' } });
      expect(typeof events[2]?.data.durationMs).toBe('number');

      const stored = await services.store.executions.get(execution.id);
      expect(stored).toMatchObject({ status: 'succeeded', attempt: 1, workerId: runtime.workerId });
      expect(stored?.result).toEqual({ echo: 'hello' });
      expect(runtime.figures().finished.succeeded).toBe(1);
      const text = await services.metrics.registry.metrics();
      expect(text).toMatch(/ipa_executions_started_total\{[^}]*kind="script"[^}]*\} [1-9]/);
      expect(text).toMatch(
        /ipa_executions_finished_total\{[^}]*kind="script"[^}]*status="succeeded"[^}]*\} [1-9]/,
      );
      expect(text).toMatch(/ipa_execution_queue_wait_seconds_count\{[^}]*kind="script"[^}]*\} [1-9]/);
      expect(text).toMatch(/ipa_execution_duration_seconds_count\{[^}]*status="succeeded"[^}]*\} [1-9]/);
    });

    it('stores the files an execution changed with its finished row, announced before its terminal event', async () => {
      start();
      const execution = await submit('write:outputs/run.txt=ran once');
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).toEqual([
        'execution.started',
        'output',
        'file.changed',
        'execution.completed',
      ]);
      expect(events[2]?.data).toEqual({ path: 'outputs/run.txt', change: 'created', size: 8, attempt: 1 });
      const stored = await services.store.files.get(user.id, 'outputs/run.txt');
      expect(stored?.content.toString()).toBe('ran once');
      expect(writeBacksClosed.get(execution.id)).toEqual([true]);
    });

    it('fails an execution whose files pass the quota with quota_exceeded, storing none of them', async () => {
      start();
      const execution = await submit('write:outputs/too-big.txt=0123456789=4');
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).toEqual(['execution.started', 'output', 'execution.failed']);
      expect(events.at(-1)?.data).toMatchObject({ status: 'failed', error: { code: 'quota_exceeded' } });
      expect((await services.store.executions.get(execution.id))?.result).toEqual({
        wrote: 'outputs/too-big.txt',
      });
      expect(await services.store.files.get(user.id, 'outputs/too-big.txt')).toBeNull();
      expect(writeBacksClosed.get(execution.id)).toEqual([false]);
    });

    it('reports an executor failure as given', async () => {
      start();
      const execution = await submit('fail');
      const events = await eventsUntilTerminal(execution.id);
      expect(terminal(events)).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({
        type: 'execution.failed',
        data: { status: 'failed', error: { code: 'script_error', message: 'exit status 3' } },
      });
      expect((await services.store.executions.get(execution.id))?.error).toEqual({
        code: 'script_error',
        message: 'exit status 3',
      });
    });

    it('ends an execution over its time limit timed_out', async () => {
      const config = { ...services.config, executions: { ...services.config.executions, timeoutMs: 300 } };
      start({ services: { ...services, config } });
      const started = Date.now();
      const execution = await submit('sleep:20000');
      const events = await eventsUntilTerminal(execution.id);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(terminal(events)).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({
        type: 'execution.failed',
        data: { status: 'timed_out', error: { code: 'timed_out' } },
      });
      expect((await services.store.executions.get(execution.id))?.status).toBe('timed_out');
    });

    it('cancels a running execution within 1 s, even one whose executor ignores its signal', async () => {
      start();
      for (const code of ['sleep:30000', 'hang']) {
        const execution = await submit(code);
        await waitForStatus(execution.id, 'running');
        const requested = Date.now();
        await services.store.executions.requestCancel(execution.id, user.id);
        const events = await eventsUntilTerminal(execution.id);
        expect(Date.now() - requested).toBeLessThan(1_000);
        expect(terminal(events)).toHaveLength(1);
        expect(events.at(-1)).toMatchObject({ type: 'execution.cancelled', data: { status: 'cancelled' } });
        expect((await services.store.executions.get(execution.id))?.status).toBe('cancelled');
      }
    });

    it('fails an execution whose executor throws, with a safe message, and runs the next one', async () => {
      const runtime = start();
      const broken = await submit('throw');
      const events = await eventsUntilTerminal(broken.id);
      expect(events.at(-1)).toMatchObject({
        type: 'execution.failed',
        data: { status: 'failed', error: { code: 'internal' } },
      });
      expect(JSON.stringify(events)).not.toContain('secret internal detail');
      const next = await submit('ok:after');
      expect((await eventsUntilTerminal(next.id)).at(-1)?.type).toBe('execution.completed');
      expect(runtime.figures().finished).toMatchObject({ failed: 1, succeeded: 1 });
    });

    it('runs an attempt again, never failing the execution, when the event log refuses one of its events', async () => {
      // What a Redis failover slower than the client rides out looks like to the executor's emit.
      let refuse = true;
      const flaky: EventLog = {
        ...services.events,
        append: (id, type, data) => {
          if (type === 'output' && refuse) {
            refuse = false;
            return Promise.reject(new Error('Reached the max retries per request limit (which is 10)'));
          }
          return services.events.append(id, type, data);
        },
      };
      start({ services: { ...services, events: flaky } });
      const execution = await submit('ok:again');
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).toEqual([
        'execution.started',
        'execution.superseded',
        'execution.started',
        'output',
        'execution.completed',
      ]);
      const row = await services.store.executions.get(execution.id);
      expect([row?.status, row?.attempt, row?.error]).toEqual(['succeeded', 2, null]);
    });

    it('fails an execution whose kind has no executor with no_executor, never a fake success', async () => {
      start({ executors: [] });
      const execution = await submit('ok:never');
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).toEqual(['execution.started', 'execution.failed']);
      expect(events.at(-1)?.data).toMatchObject({ status: 'failed', error: { code: 'no_executor' } });
      expect((await services.store.executions.get(execution.id))?.status).toBe('failed');
    });

    it('completes an execution once even when its job is delivered twice', async () => {
      const doubled: ExecutionQueue = {
        ...services.queue,
        consume: (handler: JobHandler, options) =>
          services.queue.consume(async (job, context) => {
            await Promise.all([handler(job, context), handler(job, context)]);
            await handler(job, context);
          }, options),
      };
      start({ services: { ...services, queue: doubled } });
      const execution = await submit('sleep:50');
      const events = await eventsUntilTerminal(execution.id);
      // The job finishes after all three deliveries have returned (the last one only after the
      // grace in which it waits for a terminal event it does not see as the stream's newest).
      await jobFinished(execution.id);
      const all = await services.events.read(execution.id, undefined);
      expect(terminal(all)).toHaveLength(1);
      expect(all.length).toBeGreaterThanOrEqual(events.length);
      expect((await services.store.executions.get(execution.id))?.status).toBe('succeeded');
    });

    it('ends the stream of an execution whose worker died between its row and its terminal event', async () => {
      start({ timing: { heartbeatMs: 100, cancelPollMs: 100, terminalGraceMs: 50 } });
      const execution = await services.store.executions.create({
        userId: user.id,
        kind: 'script',
        input: { language: 'javascript', code: 'ok:never-run' },
      });
      // What the dead worker left: a running attempt, a finished row, no terminal event.
      await services.store.executions.markRunning(execution.id, 'dead-worker', 1);
      await services.events.append(execution.id, 'execution.started', {
        attempt: 1,
        workerId: 'dead-worker',
      });
      await services.store.executions.finish(execution.id, { status: 'succeeded', result: { echo: 'x' } });
      // Its job's lock expires and the queue delivers it again.
      await services.queue.enqueue({ executionId: execution.id, userId: user.id, kind: 'script' });
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).toEqual(['execution.started', 'execution.completed']);
      expect(events.at(-1)?.data).toMatchObject({ status: 'succeeded', result: { echo: 'x' } });
      await services.queue.enqueue({ executionId: execution.id, userId: user.id, kind: 'script' });
      await jobFinished(execution.id);
      expect(terminal(await services.events.read(execution.id, undefined))).toHaveLength(1);
    });

    it('fails an execution delivered more often than QUEUE_MAX_ATTEMPTS as worker_lost, never leaving it running', async () => {
      const max = services.config.worker.maxAttempts;
      // A delivery past the limit: what the queue hands over after the execution's workers kept dying.
      const exhausted: ExecutionQueue = {
        ...services.queue,
        consume: (handler: JobHandler, options) =>
          services.queue.consume((job, context) => handler(job, { ...context, attempt: max + 1 }), options),
      };
      start({ services: { ...services, queue: exhausted } });
      const execution = await submit('ok:never-run');
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).not.toContain('output');
      expect(terminal(events)).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({
        type: 'execution.failed',
        data: { error: { code: 'worker_lost' } },
      });
      expect(await services.store.executions.get(execution.id)).toMatchObject({
        status: 'failed',
        error: { code: 'worker_lost' },
      });
    });

    /** A submission through the API's submitter whose process "dies" at `step`: nothing after it runs. */
    async function submitAndCrash(owner: User, code: string, step: SubmissionStep): Promise<string> {
      let crashed!: (id: string) => void;
      const died = new Promise<string>((resolve) => {
        crashed = resolve;
      });
      let id = '';
      const submit = createSubmitter(services, {
        crashAt: async (at) => {
          if (at !== step) return;
          crashed(id);
          await new Promise<void>(() => {});
        },
      });
      void submit(owner.id, async (_tx, admit) => {
        const execution = await admit({
          userId: owner.id,
          kind: 'script',
          input: { language: 'javascript', code },
        });
        id = execution.id;
        return { execution, extra: null };
      });
      return died;
    }

    const fastReconcile = { heartbeatMs: 100, cancelPollMs: 100, reconcileMs: 100, reconcileAgeMs: 300 };

    for (const step of ['after-row', 'after-event', 'after-enqueue'] as const) {
      it(`runs every execution whose API died ${step} and frees the user's slots`, async () => {
        const owner = await services.store.users.create({ name: `crash-${step}` });
        const limit = services.config.executions.userConcurrency;
        const ids: string[] = [];
        for (let i = 0; i < limit; i++) ids.push(await submitAndCrash(owner, `ok:${step}-${i}`, step));
        // The crashed submissions hold every slot until they end.
        const healthy = createSubmitter(services);
        const another = () =>
          healthy(owner.id, async (_tx, admit) => ({
            execution: await admit({
              userId: owner.id,
              kind: 'script',
              input: { language: 'javascript', code: 'ok:after' },
            }),
            extra: null,
          }));
        await expect(another()).rejects.toMatchObject({ statusCode: 429 } satisfies Partial<ApiError>);

        start({ timing: fastReconcile });
        for (const id of ids) {
          const events = await eventsUntilTerminal(id);
          // The stream tells one story: announced once (by the API or, when it died first, by the
          // reconciler), then run once.
          expect(events.map((e) => e.type)).toEqual([
            'execution.queued',
            'execution.started',
            'output',
            'execution.completed',
          ]);
          expect((await services.store.executions.get(id))?.status).toBe('succeeded');
        }
        expect(await services.store.executions.countActive(owner.id)).toBe(0);
        const { execution } = await another();
        expect((await eventsUntilTerminal(execution.id)).at(-1)?.type).toBe('execution.completed');
      });
    }

    it('revives the job of a queued execution that a worker dropped (its row not yet visible) and runs it', async () => {
      const dropped = new Set<string>();
      // The first delivery of each job finds no row and is dropped: the job completes, the row stays queued.
      const dropping: ExecutionQueue = {
        ...services.queue,
        consume: (handler: JobHandler, options) =>
          services.queue.consume(async (job, context) => {
            if (!dropped.has(job.executionId)) {
              dropped.add(job.executionId);
              return;
            }
            await handler(job, context);
          }, options),
      };
      start({ services: { ...services, queue: dropping }, timing: fastReconcile });
      const execution = await submit('ok:second-chance');
      const events = await eventsUntilTerminal(execution.id);
      expect(dropped.has(execution.id)).toBe(true);
      expect(terminal(events)).toHaveLength(1);
      expect(events.at(-1)?.type).toBe('execution.completed');
    });

    it('ends as worker_lost a running execution whose job was lost after its last allowed attempt', async () => {
      const max = services.config.worker.maxAttempts;
      const execution = await services.store.executions.create({
        userId: user.id,
        kind: 'script',
        input: { language: 'javascript', code: 'ok:never-run' },
      });
      // Its last allowed attempt's worker died and the queue gave up on the job (or lost it).
      await services.store.executions.markRunning(execution.id, 'dead-worker', max);
      await services.events.append(execution.id, 'execution.started', {
        attempt: max,
        workerId: 'dead-worker',
      });
      start({ timing: fastReconcile });
      const events = await eventsUntilTerminal(execution.id);
      expect(events.map((e) => e.type)).not.toContain('output');
      expect(events.at(-1)).toMatchObject({
        type: 'execution.failed',
        data: { error: { code: 'worker_lost' } },
      });
    });

    it('publishes heartbeats and removes them on stop', async () => {
      const runtime = start();
      const beat = await vi.waitFor(async () => {
        const found = (await services.workers.list()).find((w) => w.workerId === runtime.workerId);
        if (!found) throw new Error('no heartbeat yet');
        return found;
      });
      expect(beat).toMatchObject({ draining: false, concurrency: services.config.worker.concurrency });
      expect(['bwrap', 'process']).toContain(beat?.isolation);
      await runtime.stop(0);
      expect((await services.workers.list()).some((w) => w.workerId === runtime.workerId)).toBe(false);
    });

    it('hands a long execution back at stop; the next worker finishes it as attempt 2', async () => {
      const first = start();
      const execution = await submit('sleep:1500');
      await waitForStatus(execution.id, 'running');
      // Attempt 1 has begun its work: its first output is in the stream.
      await vi.waitFor(async () =>
        expect((await services.events.read(execution.id, undefined)).map((e) => e.type)).toContain('output'),
      );
      const stopping = Date.now();
      const stopped = first.stop(400);
      // Stopping publishes a heartbeat at once: draining, the execution still running.
      await expect
        .poll(async () => (await services.workers.list()).find((w) => w.workerId === first.workerId), {
          timeout: 5000,
          interval: 10,
        })
        .toMatchObject({ draining: true, running: 1 });
      await stopped;
      expect(Date.now() - stopping).toBeLessThan(2_000);
      expect(first.figures().handedBack).toBe(1);
      const between = await services.store.executions.get(execution.id);
      expect(between).toMatchObject({ status: 'running', attempt: 1 });

      const second = start();
      const events = await eventsUntilTerminal(execution.id, 15_000);
      const types = events.map((e) => e.type);
      expect(types.slice(0, 2)).toEqual(['execution.started', 'output']);
      const superseded = types.indexOf('execution.superseded');
      expect(superseded).toBeGreaterThan(0);
      expect(events[superseded]?.data).toEqual({ attempt: 1 });
      expect(events[superseded + 1]).toMatchObject({
        type: 'execution.started',
        data: { attempt: 2, workerId: second.workerId },
      });
      expect(terminal(events)).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({
        type: 'execution.completed',
        data: { result: { slept: 1500, attempt: 2 } },
      });
      expect(
        events.slice(superseded + 1).every((e) => e.type === 'execution.completed' || e.data.attempt === 2),
      ).toBe(true);
      expect(await services.store.executions.get(execution.id)).toMatchObject({
        status: 'succeeded',
        attempt: 2,
      });
    });

    it('gives the executor an abort reason it can read', async () => {
      const seen: (string | undefined)[] = [];
      start({
        executors: [
          {
            kind: 'script',
            async run(context) {
              await wait(10_000, context.signal).catch(() => {});
              seen.push(abortCodeOf(context.signal));
              return { status: 'cancelled' };
            },
          },
        ],
      });
      const execution = await submit('x');
      await waitForStatus(execution.id, 'running');
      await services.store.executions.requestCancel(execution.id, user.id);
      await eventsUntilTerminal(execution.id);
      expect(seen).toEqual(['cancelled']);
    });
  });
}
