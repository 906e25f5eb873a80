/**
 * The KEDA trigger against a real Redis and real BullMQ: jobs are enqueued with BullMQ under the
 * platform's queue name and prefix, some are taken by a consumer (active), and each rendered
 * trigger is evaluated exactly as KEDA's redis scaler does (LLEN of its listName), then combined
 * by the ScaledObject's scalingModifiers formula. The result must be waiting + active.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionQueueName } from '../../backend/src/queue/index.js';
import { freshRedisPrefix, redisUrl } from '../../backend/test/support/services.js';
import { type Free, find, render } from './support/index.js';

const waiting = 5;
const active = 3;

/** KEDA's scalingModifiers formula over named trigger values; the chart's formulas are sums of names. */
function evaluate(formula: string, values: Record<string, number>): number {
  return formula.split('+').reduce((sum, term) => {
    const name = term.trim();
    if (!(name in values)) throw new Error(`formula names ${name}, which no trigger has`);
    return sum + values[name]!;
  }, 0);
}

describe('KEDA queue trigger on a real Redis', () => {
  const prefix = freshRedisPrefix();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const connection = { url: redisUrl };
  let queue: Queue;
  let consumer: Worker;

  beforeAll(async () => {
    queue = new Queue(executionQueueName, { connection, prefix });
    for (let i = 0; i < waiting + active; i++) await queue.add('execution', { i }, { jobId: `job-${i}` });
    // a consumer without a processor takes jobs by hand: they move to active and stay there
    consumer = new Worker(executionQueueName, null, { connection, prefix });
    for (let i = 0; i < active; i++) expect(await consumer.getNextJob(`token-${i}`)).toBeTruthy();
  });

  afterAll(async () => {
    await consumer?.close(true);
    await queue?.obliterate({ force: true });
    await queue?.close();
    redis.disconnect();
  });

  it('BullMQ holds the jobs as the test set them up', async () => {
    const counts = await queue.getJobCounts('waiting', 'active');
    expect(counts).toMatchObject({ waiting, active });
  });

  it('the rendered triggers and formula count waiting + active', async () => {
    const objects = await render({
      environment: 'prod',
      values: {
        config: { redisPrefix: prefix },
        metrics: { serviceMonitor: { enabled: false }, prometheusRule: { enabled: false } },
      },
    });
    const scaled = find(objects, 'ScaledObject', '-worker');
    const values: Record<string, number> = {};
    for (const trigger of scaled.spec.triggers as Free[]) {
      expect(trigger.type).toBe('redis');
      // what KEDA's redis scaler runs for a listName
      values[trigger.name] = await redis.llen(trigger.metadata.listName);
    }
    const { formula, target } = scaled.spec.advanced.scalingModifiers;
    expect(evaluate(formula, values)).toBe(waiting + active);
    // KEDA's desired replicas for an AverageValue target: ceil(metric / target)
    expect(Math.ceil(evaluate(formula, values) / Number(target))).toBe(Math.ceil((waiting + active) / 4));
  });

  it('the Prometheus query sums the same two states the worker exports', async () => {
    const objects = await render({
      environment: 'prod',
      values: {
        metrics: { serviceMonitor: { enabled: false }, prometheusRule: { enabled: false } },
        worker: {
          autoscaling: { keda: { source: 'prometheus', prometheus: { serverAddress: 'http://p:9090' } } },
        },
      },
    });
    const query: string = find(objects, 'ScaledObject', '-worker').spec.triggers[0].metadata.query;
    const states = /state=~"([^"]+)"/.exec(query)?.[1]?.split('|');
    expect(states?.sort()).toEqual(['active', 'waiting']);
    const counts = await queue.getJobCounts('waiting', 'active');
    expect((states ?? []).reduce((sum, s) => sum + (counts[s] ?? 0), 0)).toBe(waiting + active);
  });
});
