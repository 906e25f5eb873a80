import { describe, expect, it } from 'vitest';
import {
  environments,
  find,
  findAll,
  type K8sObject,
  podSpecs,
  render,
  renderEnvironment,
} from './support/index.js';

const external = {
  secrets: { databaseUrl: 'postgresql://ipa:pw@db:5432/ipa', redisUrl: 'redis://redis:6379' },
};
const platform = ['-backend', '-worker', '-frontend'];
const container = (objects: K8sObject[], suffix: string) =>
  find(objects, 'Deployment', suffix).spec.template.spec.containers[0];

describe.each(environments)('rollouts (%s)', (env) => {
  it('maxUnavailable 0 and maxSurge at least 1', async () => {
    for (const d of findAll(await renderEnvironment(env), 'Deployment')) {
      expect(d.spec.strategy.type, d.metadata.name).toBe('RollingUpdate');
      expect(d.spec.strategy.rollingUpdate.maxUnavailable, d.metadata.name).toBe(0);
      expect(d.spec.strategy.rollingUpdate.maxSurge, d.metadata.name).toBeGreaterThanOrEqual(1);
    }
  });

  it('minReadySeconds', async () => {
    for (const d of findAll(await renderEnvironment(env), 'Deployment')) {
      expect(d.spec.minReadySeconds, d.metadata.name).toBeGreaterThan(0);
    }
  });

  it('startup, readiness and liveness probes on the health paths', async () => {
    const objects = await renderEnvironment(env);
    for (const [suffix, port, ready, live] of [
      ['-backend', 8000, '/health/ready', '/health/live'],
      ['-worker', 8001, '/health/ready', '/health/live'],
      ['-frontend', 8080, '/healthz', '/healthz'],
    ] as const) {
      const c = container(objects, suffix);
      expect(c.ports).toContainEqual({ name: 'http', containerPort: port, protocol: 'TCP' });
      expect(c.startupProbe.httpGet, suffix).toEqual({ path: live, port: 'http' });
      expect(c.readinessProbe.httpGet, suffix).toEqual({ path: ready, port: 'http' });
      expect(c.livenessProbe.httpGet, suffix).toEqual({ path: live, port: 'http' });
    }
  });

  it('native preStop sleep for the API', async () => {
    const c = container(await renderEnvironment(env), '-backend');
    expect(c.lifecycle.preStop.sleep.seconds).toBeGreaterThan(0);
    expect(c.lifecycle.preStop.exec).toBeUndefined();
  });

  it('API terminationGracePeriod covers preStop and the drain', async () => {
    const objects = await renderEnvironment(env);
    const pod = find(objects, 'Deployment', '-backend').spec.template.spec;
    const drain = Number(find(objects, 'ConfigMap', '').data.SHUTDOWN_GRACE_SECONDS);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      pod.containers[0].lifecycle.preStop.sleep.seconds + drain,
    );
  });

  it('worker terminationGracePeriod covers the execution time limit plus a margin', async () => {
    const objects = await renderEnvironment(env);
    const pod = find(objects, 'Deployment', '-worker').spec.template.spec;
    const limit = Number(find(objects, 'ConfigMap', '').data.EXECUTION_TIMEOUT_SECONDS);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(limit + 5);
    // the worker lets executions run for the whole limit before it hands the rest back
    expect(pod.containers[0].env).toContainEqual({ name: 'WORKER_GRACE_SECONDS', value: String(limit) });
  });

  it('checksum/config and checksum/secret annotations', async () => {
    const objects = await renderEnvironment(env);
    const usesExisting = env !== 'dev';
    for (const suffix of ['-backend', '-worker']) {
      const annotations = find(objects, 'Deployment', suffix).spec.template.metadata.annotations;
      expect(annotations['checksum/config'], suffix).toMatch(/^[a-f0-9]{64}$/);
      // an existing Secret is outside the chart; only a chart-made Secret can be summed
      if (usesExisting) expect(annotations['checksum/secret'], suffix).toBeUndefined();
      else expect(annotations['checksum/secret'], suffix).toMatch(/^[a-f0-9]{64}$/);
    }
  });

  it('replicas omitted when autoscaled', async () => {
    const objects = await renderEnvironment(env);
    for (const suffix of platform) {
      const d = find(objects, 'Deployment', suffix);
      const scaled =
        objects.some(
          (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === d.metadata.name,
        ) || objects.some((o) => o.kind === 'ScaledObject' && o.spec.scaleTargetRef.name === d.metadata.name);
      if (scaled) expect(d.spec.replicas, suffix).toBeUndefined();
      else expect(d.spec.replicas, suffix).toBeGreaterThanOrEqual(1);
    }
  });

  it('requests and memory limits on every container', async () => {
    for (const { owner, spec } of podSpecs(await renderEnvironment(env))) {
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.resources?.requests?.cpu, `${owner}/${c.name}`).toBeTruthy();
        expect(c.resources?.requests?.memory, `${owner}/${c.name}`).toBeTruthy();
        expect(c.resources?.limits?.memory, `${owner}/${c.name}`).toBeTruthy();
      }
    }
  });
});

describe('rollouts (chart defaults)', () => {
  it('replicas at least 2 when not autoscaled', async () => {
    const objects = await render({ values: external });
    for (const suffix of platform)
      expect(find(objects, 'Deployment', suffix).spec.replicas, suffix).toBeGreaterThanOrEqual(2);
  });

  it('zone topology spread plus preferred anti-affinity', async () => {
    const objects = await render({ values: external });
    for (const suffix of platform) {
      const spec = find(objects, 'Deployment', suffix).spec.template.spec;
      expect(spec.topologySpreadConstraints, suffix).toContainEqual(
        expect.objectContaining({
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
        }),
      );
      const preferred = spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
      expect(preferred[0].podAffinityTerm.topologyKey, suffix).toBe('kubernetes.io/hostname');
      expect(
        spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution,
        suffix,
      ).toBeUndefined();
    }
  });

  it('images by tag defaulting to appVersion, or by digest', async () => {
    const byTag = await render({ values: external });
    expect(container(byTag, '-backend').image).toBe('ghcr.io/ipa-platform/backend:0.1.0');
    expect(container(byTag, '-worker').image).toBe('ghcr.io/ipa-platform/worker:0.1.0');
    expect(container(byTag, '-frontend').image).toBe('ghcr.io/ipa-platform/frontend:0.1.0');
    const digest = `sha256:${'a'.repeat(64)}`;
    const byDigest = await render({
      values: {
        ...external,
        worker: { image: { digest, tag: '9.9.9' } },
        backend: { image: { tag: '1.2.3' } },
      },
    });
    expect(container(byDigest, '-worker').image).toBe(`ghcr.io/ipa-platform/worker@${digest}`);
    expect(container(byDigest, '-backend').image).toBe('ghcr.io/ipa-platform/backend:1.2.3');
  });

  it('a ConfigMap change changes the checksum/config annotation', async () => {
    const before = await render({ values: external });
    const after = await render({ values: { ...external, config: { logLevel: 'debug' } } });
    for (const suffix of ['-backend', '-worker']) {
      const a = find(before, 'Deployment', suffix).spec.template.metadata.annotations;
      const b = find(after, 'Deployment', suffix).spec.template.metadata.annotations;
      expect(b['checksum/config'], suffix).not.toBe(a['checksum/config']);
      expect(b['checksum/secret'], suffix).toBe(a['checksum/secret']);
    }
    const again = await render({ values: external });
    expect(find(again, 'Deployment', '-backend').spec.template.metadata.annotations['checksum/config']).toBe(
      find(before, 'Deployment', '-backend').spec.template.metadata.annotations['checksum/config'],
    );
  });

  it('a Secret change changes the checksum/secret annotation', async () => {
    const before = await render({ values: external });
    const after = await render({ values: { secrets: { ...external.secrets, adminToken: 'x'.repeat(32) } } });
    const key = (objects: K8sObject[]) =>
      find(objects, 'Deployment', '-worker').spec.template.metadata.annotations['checksum/secret'];
    expect(key(after)).not.toBe(key(before));
  });
});
