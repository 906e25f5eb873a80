import { describe, expect, it } from 'vitest';
import {
  type Free,
  find,
  type K8sObject,
  monitoringApiVersions,
  podSpecs,
  render,
  renderEnvironment,
  valuesFiles,
} from './support/index.js';

type Container = { name: string; securityContext?: Free; [k: string]: Free };

/** Every container of every pod in the render, init and test containers included. */
function containers(objects: K8sObject[]): { where: string; container: Container; pod: Container }[] {
  return podSpecs(objects).flatMap(({ owner, spec }) =>
    [...(spec.initContainers ?? []), ...spec.containers].map((container: Container) => ({
      where: `${owner}/${container.name}`,
      container,
      pod: spec,
    })),
  );
}

/** The effective value of a security setting: the container's, else the pod's. */
function effective(entry: { container: Container; pod: Container }, key: string): unknown {
  return entry.container.securityContext?.[key] ?? entry.pod.securityContext?.[key];
}

describe.each(valuesFiles)('pod hardening (%s)', (env) => {
  const all = async () => containers(await renderEnvironment(env));

  it('covers init and test containers too', async () => {
    const names = (await all()).map((c) => c.where);
    expect(names.some((n) => n.startsWith('Pod/') && n.includes('test'))).toBe(true);
    if (env === 'dev')
      expect(names.some((n) => n.endsWith('/migrate') && n.startsWith('Deployment/'))).toBe(true);
    else expect(names.some((n) => n.startsWith('Job/') && n.endsWith('/migrate'))).toBe(true);
  });

  it('runAsNonRoot', async () => {
    for (const c of await all()) expect(effective(c, 'runAsNonRoot'), c.where).toBe(true);
  });

  it('numeric uid and gid of at least 10000, matching the images (10001)', async () => {
    for (const c of await all()) {
      expect(effective(c, 'runAsUser'), c.where).toBe(10001);
      expect(effective(c, 'runAsGroup'), c.where).toBe(10001);
    }
    for (const { spec, owner } of podSpecs(await renderEnvironment(env))) {
      expect(spec.securityContext.fsGroup, owner).toBeGreaterThanOrEqual(10000);
    }
  });

  it('readOnlyRootFilesystem', async () => {
    for (const c of await all())
      expect(c.container.securityContext?.readOnlyRootFilesystem, c.where).toBe(true);
  });

  it('no privilege escalation', async () => {
    for (const c of await all()) {
      expect(c.container.securityContext?.allowPrivilegeEscalation, c.where).toBe(false);
      expect(c.container.securityContext?.privileged ?? false, c.where).toBe(false);
    }
  });

  it('all capabilities dropped', async () => {
    for (const c of await all()) {
      expect(c.container.securityContext?.capabilities?.drop, c.where).toEqual(['ALL']);
      expect(c.container.securityContext?.capabilities?.add ?? [], c.where).toEqual([]);
    }
  });

  it("seccomp RuntimeDefault, or for the worker the chart's Localhost profile for bubblewrap", async () => {
    for (const c of await all()) {
      const profile = effective(c, 'seccompProfile') as { type: string; localhostProfile?: string };
      if (c.where.endsWith('-worker/worker') && profile.type === 'Localhost') {
        expect(profile.localhostProfile, c.where).toBe('ipa-platform/ipa-worker-bwrap.json');
      } else {
        expect(profile?.type, c.where).toBe('RuntimeDefault');
      }
    }
  });

  it('no service-account token and no host namespaces', async () => {
    const objects = await renderEnvironment(env);
    for (const { owner, spec } of podSpecs(objects)) {
      expect(spec.automountServiceAccountToken, owner).toBe(false);
      for (const key of ['hostNetwork', 'hostPID', 'hostIPC'])
        expect(spec[key] ?? false, `${owner} ${key}`).toBe(false);
    }
    const account = objects.find((o) => o.kind === 'ServiceAccount');
    expect(account?.automountServiceAccountToken).toBe(false);
  });

  it('emptyDir with sizeLimit for /tmp and /data/sandbox', async () => {
    const objects = await renderEnvironment(env);
    for (const { owner, spec } of podSpecs(objects)) {
      for (const volume of spec.volumes ?? []) {
        if (volume.emptyDir) expect(volume.emptyDir.sizeLimit, `${owner} ${volume.name}`).toBeTruthy();
      }
    }
    const mountedAt = (suffix: string, path: string) => {
      const spec = find(objects, 'Deployment', suffix).spec.template.spec;
      const mount = spec.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === path);
      expect(mount, `${suffix} ${path}`).toBeDefined();
      return spec.volumes.find((v: { name: string }) => v.name === mount.name);
    };
    expect(mountedAt('-worker', '/tmp').emptyDir.sizeLimit).toBeTruthy();
    expect(mountedAt('-worker', '/data/sandbox').emptyDir.sizeLimit).toBeTruthy();
    expect(mountedAt('-backend', '/tmp').emptyDir.sizeLimit).toBeTruthy();
    expect(mountedAt('-frontend', '/tmp').emptyDir.sizeLimit).toBeTruthy();
  });
});

// what the Pod Security "restricted" profile checks beyond the properties above
const restrictedVolumeTypes = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

describe.each(valuesFiles)('Pod Security restricted (%s)', (env) => {
  it('only volume types the restricted profile allows', async () => {
    for (const { owner, spec } of podSpecs(await renderEnvironment(env))) {
      for (const volume of spec.volumes ?? []) {
        const types = Object.keys(volume).filter((k) => k !== 'name');
        expect(
          types.every((t) => restrictedVolumeTypes.includes(t)),
          `${owner} ${volume.name}: ${types}`,
        ).toBe(true);
      }
    }
  });

  it('no host ports and no root user anywhere', async () => {
    for (const c of containers(await renderEnvironment(env))) {
      for (const port of c.container.ports ?? []) expect(port.hostPort, c.where).toBeUndefined();
      expect(effective(c, 'runAsUser'), c.where).not.toBe(0);
    }
  });
});

describe('worker isolation settings', () => {
  it('optional runtimeClassName for the worker', async () => {
    const without = find(await renderEnvironment('prod'), 'Deployment', '-worker');
    expect(without.spec.template.spec.runtimeClassName).toBeUndefined();
    const objects = await render({
      environment: 'prod',
      values: { worker: { runtimeClassName: 'gvisor' } },
      apiVersions: monitoringApiVersions,
    });
    expect(find(objects, 'Deployment', '-worker').spec.template.spec.runtimeClassName).toBe('gvisor');
    expect(find(objects, 'Deployment', '-backend').spec.template.spec.runtimeClassName).toBeUndefined();
  });

  it('sandbox isolation mode and SANDBOX_REQUIRE_ISOLATION from values', async () => {
    const prod = find(await renderEnvironment('prod'), 'ConfigMap', '');
    expect(prod.data.SANDBOX_ISOLATION).toBe('bwrap');
    expect(prod.data.SANDBOX_REQUIRE_ISOLATION).toBe('bwrap');
    const dev = find(await renderEnvironment('dev'), 'ConfigMap', '');
    expect(dev.data.SANDBOX_ISOLATION).toBe('auto');
    expect(dev.data.SANDBOX_REQUIRE_ISOLATION).toBe('none');
    const worker = find(await renderEnvironment('prod'), 'Deployment', '-worker').spec.template.spec
      .containers[0];
    expect(worker.env).toContainEqual({ name: 'SANDBOX_ROOT', value: '/data/sandbox' });
    // warm sandboxes: a worker-only setting, so on the worker's own environment
    expect(worker.env).toContainEqual({ name: 'SANDBOX_WARM_SPARES', value: '2' });
    const secrets = { databaseUrl: 'postgresql://ipa:pw@db:5432/ipa', redisUrl: 'redis://redis:6379' };
    const tuned = await render({ values: { worker: { sandbox: { warmSpares: 0 } }, secrets } });
    expect(find(tuned, 'Deployment', '-worker').spec.template.spec.containers[0].env).toContainEqual({
      name: 'SANDBOX_WARM_SPARES',
      value: '0',
    });
    expect(find(tuned, 'Deployment', '-backend').spec.template.spec.containers[0].env).not.toContainEqual(
      expect.objectContaining({ name: 'SANDBOX_WARM_SPARES' }),
    );
  });
});
