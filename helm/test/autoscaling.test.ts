import { describe, expect, it } from 'vitest';
import {
  find,
  findAll,
  type K8sObject,
  monitoringApiVersions,
  render,
  renderEnvironment,
} from './support/index.js';

const hpaFor = (objects: K8sObject[], suffix: string) => find(objects, 'HorizontalPodAutoscaler', suffix);

describe('autoscaling', () => {
  it('HPAs use autoscaling/v2 with CPU and memory targets', async () => {
    const objects = await renderEnvironment('prod');
    const hpa = hpaFor(objects, '-backend');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'ipa-ipa-platform-backend',
    });
    const targets = hpa.spec.metrics.map((m: { resource: { name: string; target: object } }) => [
      m.resource.name,
      m.resource.target,
    ]);
    expect(targets).toEqual([
      ['cpu', { type: 'Utilization', averageUtilization: 65 }],
      ['memory', { type: 'Utilization', averageUtilization: 80 }],
    ]);
  });

  it('HPA behavior: fast scale-up and a scale-down window of at least 300 s', async () => {
    for (const env of ['staging', 'prod'] as const) {
      for (const hpa of findAll(await renderEnvironment(env), 'HorizontalPodAutoscaler')) {
        const { scaleUp, scaleDown } = hpa.spec.behavior;
        expect(scaleUp.stabilizationWindowSeconds, hpa.metadata.name).toBe(0);
        expect(scaleUp.selectPolicy).toBe('Max');
        expect(scaleUp.policies).toContainEqual({ type: 'Percent', value: 100, periodSeconds: 15 });
        expect(scaleDown.stabilizationWindowSeconds, hpa.metadata.name).toBeGreaterThanOrEqual(300);
      }
    }
  });

  it('staging scales API and worker 2–5 on CPU and memory', async () => {
    const objects = await renderEnvironment('staging');
    for (const suffix of ['-backend', '-worker']) {
      expect(hpaFor(objects, suffix).spec).toMatchObject({ minReplicas: 2, maxReplicas: 5 });
    }
    expect(objects.some((o) => o.kind === 'ScaledObject')).toBe(false);
  });

  it('prod scales the API 2–10 and the worker on queue depth', async () => {
    const objects = await renderEnvironment('prod');
    expect(hpaFor(objects, '-backend').spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    // KEDA owns the worker's HPA; a second one would fight it
    expect(
      objects.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name.endsWith('-worker')),
    ).toBe(false);
    expect(find(objects, 'ScaledObject', '-worker').spec.scaleTargetRef.name).toBe('ipa-ipa-platform-worker');
  });

  it('KEDA ScaledObject on the BullMQ wait and active lists of the execution queue, summed', async () => {
    const scaled = find(await renderEnvironment('prod'), 'ScaledObject', '-worker');
    expect(scaled.apiVersion).toBe('keda.sh/v1alpha1');
    expect(scaled.spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 20 });
    expect(
      scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds,
    ).toBeGreaterThanOrEqual(300);
    const lists = Object.fromEntries(
      scaled.spec.triggers.map((t: { name: string; metadata: { listName: string } }) => [
        t.name,
        t.metadata.listName,
      ]),
    );
    expect(lists).toEqual({ waiting: 'ipa:executions:wait', active: 'ipa:executions:active' });
    for (const trigger of scaled.spec.triggers) {
      expect(trigger.type).toBe('redis');
      expect(trigger.metadata).toMatchObject({ address: 'redis.prod.internal:6379', enableTLS: 'true' });
      expect(trigger.authenticationRef.name).toBe('ipa-ipa-platform-worker');
    }
    expect(scaled.spec.advanced.scalingModifiers).toEqual({
      formula: 'waiting + active',
      target: '4',
      activationTarget: '0',
      metricType: 'AverageValue',
    });
    // a scaler that cannot read the queue keeps the workers there are
    expect(scaled.spec.fallback).toMatchObject({ behavior: 'currentReplicas', failureThreshold: 3 });
    const auth = find(await renderEnvironment('prod'), 'TriggerAuthentication', '-worker');
    expect(auth.spec.secretTargetRef).toEqual([
      { parameter: 'password', name: 'ipa-platform-secrets', key: 'REDIS_PASSWORD' },
    ]);
  });

  it('KEDA wait list follows the Redis prefix and the in-cluster Redis', async () => {
    const objects = await render({
      environment: 'dev',
      values: {
        config: { redisPrefix: 'team-a', workerConcurrency: 3 },
        worker: { autoscaling: { enabled: true, signal: 'queue', minReplicas: 1, maxReplicas: 4 } },
      },
    });
    const scaled = find(objects, 'ScaledObject', '-worker');
    const trigger = scaled.spec.triggers.find((t: { name: string }) => t.name === 'waiting');
    expect(trigger.metadata).toMatchObject({
      address: 'ipa-ipa-platform-redis:6379',
      listName: 'team-a:executions:wait',
    });
    expect(scaled.spec.advanced.scalingModifiers.target).toBe('3');
    expect(trigger.authenticationRef).toBeUndefined();
    expect(find(objects, 'Deployment', '-worker').spec.replicas).toBeUndefined();
  });

  it('KEDA Prometheus alternative on ipa_queue_depth, waiting and active', async () => {
    const objects = await render({
      environment: 'prod',
      apiVersions: monitoringApiVersions,
      values: {
        worker: {
          autoscaling: {
            keda: {
              source: 'prometheus',
              jobsPerReplica: 8,
              prometheus: { serverAddress: 'http://prometheus.monitoring:9090' },
            },
          },
        },
      },
    });
    const trigger = find(objects, 'ScaledObject', '-worker').spec.triggers[0];
    expect(trigger.type).toBe('prometheus');
    expect(trigger.metadata.query).toContain('ipa_queue_depth{state=~"waiting|active"}');
    expect(trigger.metadata).toMatchObject({
      serverAddress: 'http://prometheus.monitoring:9090',
      threshold: '8',
    });
    expect(objects.some((o) => o.kind === 'TriggerAuthentication')).toBe(false);
  });

  it('queue signal without a reachable Redis address is refused', async () => {
    await expect(
      render({
        values: {
          secrets: { databaseUrl: 'postgresql://a:b@db/ipa', redisUrl: 'redis://r:6379' },
          worker: { autoscaling: { enabled: true, signal: 'queue' } },
        },
      }),
    ).rejects.toThrow(/worker.autoscaling.keda.redis.address is needed/);
  });

  it('PodDisruptionBudgets in prod for API, worker and frontend', async () => {
    const objects = await renderEnvironment('prod');
    for (const suffix of ['-backend', '-worker', '-frontend']) {
      const pdb = find(objects, 'PodDisruptionBudget', suffix);
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(suffix.slice(1));
    }
    expect(findAll(await renderEnvironment('dev'), 'PodDisruptionBudget')).toEqual([]);
  });
});
