import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConsumerClosingError,
  type ExecutionJob,
  type ExecutionQueue,
  type JobContext,
  type QueueConsumer,
} from '../../src/queue/index.js';
import { letTimePass, quietWindow } from '../support/fixed-wait.js';

export interface QueueUnderTest {
  queue: ExecutionQueue;
  /** Backoff base the queue was built with (ms). */
  backoffMs: number;
  maxAttempts: number;
  /**
   * Starts a consumer that takes the next job and then dies without finishing it or renewing its
   * lock (a crashed worker). Resolves with the execution id once it holds the job. Only for
   * queues that outlive a consumer's process.
   */
  takeJobAndDie?: () => Promise<string>;
  cleanup(): Promise<void>;
}

let counter = 0;
export function job(overrides: Partial<ExecutionJob> = {}): ExecutionJob {
  counter += 1;
  return {
    executionId: `exec-${Date.now().toString(36)}-${counter}`,
    userId: 'user-1',
    kind: 'script',
    ...overrides,
  };
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  await expect.poll(condition, { timeout: timeoutMs, interval: 10 }).toBe(true);
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The behaviour every `ExecutionQueue` must show (docs/architecture.md, Queue). */
export function queueContract(name: string, create: () => Promise<QueueUnderTest>): void {
  describe(`ExecutionQueue contract: ${name}`, () => {
    let subject: QueueUnderTest;
    let queue: ExecutionQueue;
    const consumers: QueueConsumer[] = [];
    const consume = (...args: Parameters<ExecutionQueue['consume']>) => {
      const consumer = queue.consume(...args);
      consumers.push(consumer);
      return consumer;
    };

    beforeEach(async () => {
      subject = await create();
      queue = subject.queue;
    });
    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((c) => c.close(0)));
      await subject.cleanup();
    });

    it('delivers an enqueued job once with attempt 1, and counts it completed', async () => {
      const seen: Array<[ExecutionJob, number]> = [];
      const j = job({ kind: 'agent' });
      await queue.enqueue(j);
      consume(
        async (received, context) => {
          seen.push([received, context.attempt]);
        },
        { concurrency: 1 },
      );
      await waitFor(async () => (await queue.counts()).completed === 1);
      expect(seen).toEqual([[j, 1]]);
      expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, failed: 0, completed: 1 });
    });

    it('treats a second enqueue of the same execution as a no-op', async () => {
      const j = job();
      await queue.enqueue(j);
      await queue.enqueue(j);
      expect((await queue.counts()).waiting).toBe(1);
      const delivered: string[] = [];
      consume(
        async (received) => {
          delivered.push(received.executionId);
        },
        { concurrency: 2 },
      );
      await waitFor(async () => (await queue.counts()).completed === 1);
      await queue.enqueue(j);
      // Once a job enqueued after the repeat is done and nothing is left, a second delivery of `j`
      // would have happened: no fixed wait needed to see that it does not.
      const later = job();
      await queue.enqueue(later);
      await waitFor(async () => {
        const counts = await queue.counts();
        return counts.completed === 2 && counts.waiting + counts.active + counts.delayed === 0;
      });
      expect(delivered).toEqual([j.executionId, later.executionId]);
    });

    it('rejects a malformed job with a clear error', async () => {
      await expect(queue.enqueue({ executionId: 'a:b', userId: 'u', kind: 'script' })).rejects.toThrow(
        /execution id/,
      );
      await expect(queue.enqueue({ ...job(), kind: 'shell' as never })).rejects.toThrow(/kind/);
      expect(() => queue.consume(async () => {}, { concurrency: 0 })).toThrow(/concurrency/);
    });

    it('counts waiting jobs and never runs more than `concurrency` at once', async () => {
      const jobs = Array.from({ length: 7 }, () => job());
      for (const j of jobs) await queue.enqueue(j);
      expect(await queue.counts()).toMatchObject({ waiting: 7, active: 0 });
      let running = 0;
      let started = 0;
      let peak = 0;
      const done: string[] = [];
      // Each job holds its slot until every slot is taken (or no job is left to take one), so the
      // slots are seen full whatever the fetch latency, instead of hoping jobs overlap in time. The
      // first full wave is released by the test once it has looked at the consumer.
      const firstWave = deferred();
      const firstWaveFull = deferred();
      let wave = firstWave;
      const consumer = consume(
        async (received) => {
          running += 1;
          started += 1;
          peak = Math.max(peak, running);
          const mine = wave;
          if (running === 3 || started === jobs.length) {
            wave = deferred();
            if (mine === firstWave) firstWaveFull.resolve();
            else mine.resolve();
          }
          await mine.promise;
          running -= 1;
          done.push(received.executionId);
        },
        { concurrency: 3 },
      );
      await firstWaveFull.promise;
      expect(consumer.running).toBe(3);
      expect(await queue.counts()).toMatchObject({ waiting: 4, active: 3 });
      firstWave.resolve();
      await waitFor(() => done.length === 7);
      expect(peak).toBe(3);
      expect(new Set(done)).toEqual(new Set(jobs.map((j) => j.executionId)));
    });

    it('retries a failing handler with growing backoff and a growing attempt number', async () => {
      const j = job();
      const attempts: Array<{ attempt: number; at: number }> = [];
      await queue.enqueue(j);
      consume(
        async (_received, context) => {
          attempts.push({ attempt: context.attempt, at: Date.now() });
          if (context.attempt < subject.maxAttempts) throw new Error(`boom ${context.attempt}`);
        },
        { concurrency: 1 },
      );
      await waitFor(async () => (await queue.counts()).completed === 1);
      expect(attempts.map((a) => a.attempt)).toEqual(
        Array.from({ length: subject.maxAttempts }, (_, i) => i + 1),
      );
      const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
      // exponential: base, then twice the base (a little slack for timer granularity)
      expect(gaps[0]).toBeGreaterThanOrEqual(subject.backoffMs - 15);
      expect(gaps[1]).toBeGreaterThanOrEqual(2 * subject.backoffMs - 15);
      expect((await queue.counts()).failed).toBe(0);
    });

    it('leaves a job failed after its last failed attempt', async () => {
      const j = job();
      let calls = 0;
      await queue.enqueue(j);
      consume(
        async () => {
          calls += 1;
          throw new Error('always broken');
        },
        { concurrency: 1 },
      );
      await waitFor(async () => (await queue.counts()).failed === 1);
      expect(calls).toBe(subject.maxAttempts);
      // No attempt may follow the last one: the window outlasts the backoff a next one would wait.
      await quietWindow(subject.backoffMs * 2 ** (subject.maxAttempts - 1) + 100);
      expect(calls).toBe(subject.maxAttempts);
      expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 1 });
    });

    it('tells where a job is: missing, live while waiting or running, finished after', async () => {
      const j = job();
      expect(await queue.jobState(j.executionId)).toBe('missing');
      await queue.enqueue(j);
      expect(await queue.jobState(j.executionId)).toBe('live');
      const release = deferred();
      const running = deferred();
      consume(
        async () => {
          running.resolve();
          await release.promise;
        },
        { concurrency: 1 },
      );
      await running.promise;
      expect(await queue.jobState(j.executionId)).toBe('live');
      release.resolve();
      await waitFor(async () => (await queue.jobState(j.executionId)) === 'finished');
      expect((await queue.counts()).completed).toBe(1);
    });

    it('revives a finished job (completed or failed) as a fresh one, adds a missing one, leaves a live one', async () => {
      const completed = job();
      const failed = job();
      const missing = job();
      const deliveries: Array<[string, number]> = [];
      const broken = new Set([failed.executionId]);
      await queue.enqueue(completed);
      await queue.enqueue(failed);
      const consumer = consume(
        async (received, context) => {
          deliveries.push([received.executionId, context.attempt]);
          if (broken.has(received.executionId)) throw new Error('broken');
        },
        { concurrency: 2 },
      );
      await waitFor(async () => {
        const counts = await queue.counts();
        return counts.completed === 1 && counts.failed === 1;
      });
      await consumer.close(0);
      broken.clear();
      expect(await queue.revive(completed)).toBe('finished');
      expect(await queue.revive(failed)).toBe('finished');
      expect(await queue.revive(missing)).toBe('missing');
      // Already live again: a second revive (another worker's reconciler) changes nothing.
      expect(await queue.revive(completed)).toBe('live');
      expect(await queue.counts()).toMatchObject({ waiting: 3, failed: 0 });
      deliveries.length = 0;
      consume(
        async (received, context) => {
          deliveries.push([received.executionId, context.attempt]);
        },
        { concurrency: 3 },
      );
      await waitFor(async () => (await queue.counts()).completed === 3);
      // One delivery each, counted from 1 again.
      expect(deliveries.sort()).toEqual(
        [
          [completed.executionId, 1],
          [failed.executionId, 1],
          [missing.executionId, 1],
        ].sort(),
      );
    });

    it('close(grace) lets a running job finish within the grace period', async () => {
      const j = job();
      const started = deferred();
      const release = deferred();
      let finished = false;
      await queue.enqueue(j);
      const consumer = consume(
        async () => {
          started.resolve();
          await release.promise;
          finished = true;
        },
        { concurrency: 1 },
      );
      await started.promise;
      let closed = false;
      const closing = consumer.close(5000).then(() => {
        closed = true;
      });
      // close may not return while its job still runs.
      await quietWindow(150);
      expect(closed).toBe(false);
      release.resolve();
      await closing;
      expect(finished).toBe(true);
      await waitFor(async () => (await queue.counts()).completed === 1);
    });

    it('close(grace) stops taking jobs at once and hands unfinished ones to another consumer', async () => {
      const j = job();
      const started = deferred();
      let abortReason: unknown;
      await queue.enqueue(j);
      const first = consume(
        async (_received, context: JobContext) => {
          started.resolve();
          await new Promise<void>((_resolve, reject) => {
            context.signal.addEventListener('abort', () => {
              abortReason = context.signal.reason;
              reject(new Error('aborted'));
            });
          });
        },
        { concurrency: 2 },
      );
      await started.promise;
      const closeStarted = Date.now();
      const closing = first.close(300);
      // A job enqueued while closing must not reach the closing consumer.
      const later = job();
      // Fixed on purpose: the enqueue lands well inside the grace period, after close has begun
      // (closing gives no signal of its own to wait for).
      await letTimePass(50);
      await queue.enqueue(later);
      await closing;
      const closeTook = Date.now() - closeStarted;
      expect(closeTook).toBeGreaterThanOrEqual(280);
      expect(closeTook).toBeLessThan(3000);
      expect(abortReason).toBeInstanceOf(ConsumerClosingError);
      expect(first.running).toBe(0);

      const redelivered: Array<[string, number]> = [];
      consume(
        async (received, context) => {
          redelivered.push([received.executionId, context.attempt]);
        },
        { concurrency: 2 },
      );
      await waitFor(() => redelivered.length === 2);
      expect(redelivered).toContainEqual([j.executionId, 2]);
      expect(redelivered).toContainEqual([later.executionId, 1]);
      await waitFor(async () => (await queue.counts()).completed === 2);
      expect((await queue.counts()).failed).toBe(0);
    });

    it('hands back a job whose handler ignores the abort, after the settle time', async () => {
      const j = job();
      const started = deferred();
      await queue.enqueue(j);
      const stuck = consume(
        async () => {
          started.resolve();
          await new Promise(() => {});
        },
        { concurrency: 1 },
      );
      await started.promise;
      await stuck.close(50);
      const seen: number[] = [];
      consume(
        async (_received, context) => {
          seen.push(context.attempt);
        },
        { concurrency: 1 },
      );
      await waitFor(() => seen.length === 1);
      expect(seen).toEqual([2]);
    });

    it('recovers the job of a consumer that died, with attempt 2', async (ctx) => {
      if (!subject.takeJobAndDie) {
        // An in-process queue dies with its only consumer's process: nothing is left to recover.
        ctx.skip("the queue does not outlive its consumer's process (in-process)");
        return;
      }
      const j = job();
      await queue.enqueue(j);
      const taken = await subject.takeJobAndDie();
      expect(taken).toBe(j.executionId);
      expect((await queue.counts()).active).toBe(1);
      const seen: Array<[string, number]> = [];
      consume(
        async (received, context) => {
          seen.push([received.executionId, context.attempt]);
        },
        { concurrency: 1 },
      );
      await waitFor(() => seen.length === 1, 15_000);
      expect(seen).toEqual([[j.executionId, 2]]);
    });

    it('answers ping and refuses work after close', async () => {
      await queue.ping();
      await queue.close();
      await expect(queue.enqueue(job())).rejects.toThrow(/closed/);
    });
  });
}
