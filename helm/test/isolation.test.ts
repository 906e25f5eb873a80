/**
 * Worker isolation and sandbox disk, as a containerd node applies them. containerd's RuntimeDefault
 * seccomp filter is built from the container's capabilities: without CAP_SYS_ADMIN it refuses
 * unshare/clone(CLONE_NEWUSER), mount and pivot_root, in a user-namespaced pod too. So a worker
 * that requires bwrap needs the chart's Localhost profile or a sandboxed runtime class; and only
 * the worker may carry such settings. (`npm run test:containers` runs the worker's own probe under
 * both filters, with and without a user namespace.)
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chartDir,
  type Free,
  find,
  type K8sObject,
  monitoringApiVersions,
  podSpecs,
  render,
  renderEnvironment,
  valuesFiles,
} from './support/index.js';

const chartProfile = 'ipa-platform/ipa-worker-bwrap.json';
const isWorker = (owner: string) => owner.endsWith('-worker') && owner.startsWith('Deployment/');
const seccompOf = (spec: Free, c: Free) =>
  c.securityContext?.seccompProfile ?? spec.securityContext?.seccompProfile;

/** Binary Kubernetes quantity to bytes (what the chart renders: Ki, Mi, Gi, Ti or plain). */
function bytes(quantity: string | number): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(String(quantity));
  if (!m) throw new Error(`unexpected quantity ${quantity}`);
  return Number(m[1]) * { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2] ?? '']!;
}

describe.each(valuesFiles)('worker isolation (%s)', (env) => {
  it('only the worker carries user-namespace, seccomp, AppArmor and runtime-class settings', async () => {
    for (const { owner, spec } of podSpecs(await renderEnvironment(env))) {
      if (isWorker(owner)) continue;
      expect(spec.hostUsers ?? true, owner).toBe(true);
      expect(spec.runtimeClassName, owner).toBeUndefined();
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(seccompOf(spec, c)?.type, `${owner}/${c.name}`).toBe('RuntimeDefault');
        const appArmor = c.securityContext?.appArmorProfile ?? spec.securityContext?.appArmorProfile;
        expect(appArmor?.type ?? 'RuntimeDefault', `${owner}/${c.name}`).toBe('RuntimeDefault');
        expect(c.securityContext?.capabilities?.add ?? [], `${owner}/${c.name}`).toEqual([]);
      }
    }
  });

  it('a worker that requires bwrap runs with a combination containerd lets bwrap use', async () => {
    const objects = await renderEnvironment(env);
    const config = find(objects, 'ConfigMap', '').data;
    if (config.SANDBOX_REQUIRE_ISOLATION !== 'bwrap') return;
    const pod = find(objects, 'Deployment', '-worker').spec.template.spec;
    const worker = pod.containers[0];
    const profile = seccompOf(pod, worker);
    // RuntimeDefault with no capabilities refuses the namespaces even with hostUsers: false
    const sandboxedRuntime = Boolean(pod.runtimeClassName);
    const chartSeccomp = profile?.type === 'Localhost' && profile.localhostProfile === chartProfile;
    expect(sandboxedRuntime || chartSeccomp, JSON.stringify({ profile, runtime: pod.runtimeClassName })).toBe(
      true,
    );
  });
});

describe('worker isolation settings per component', () => {
  it('prod: a user-namespaced worker with the chart seccomp profile, nothing else changed', async () => {
    const objects = await renderEnvironment('prod');
    const pod = find(objects, 'Deployment', '-worker').spec.template.spec;
    expect(pod.hostUsers).toBe(false);
    expect(pod.containers[0].securityContext.seccompProfile).toEqual({
      type: 'Localhost',
      localhostProfile: chartProfile,
    });
    // the rest of the hardening stays
    expect(pod.containers[0].securityContext).toMatchObject({
      capabilities: { drop: ['ALL'] },
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
  });

  it('an AppArmor profile set for the worker reaches the worker only', async () => {
    const appArmorProfile = { type: 'Localhost', localhostProfile: 'ipa-worker-userns' };
    const objects = await render({
      environment: 'prod',
      apiVersions: monitoringApiVersions,
      values: { worker: { containerSecurityContext: { appArmorProfile } } },
    });
    expect(
      find(objects, 'Deployment', '-worker').spec.template.spec.containers[0].securityContext,
    ).toMatchObject({
      appArmorProfile,
    });
    for (const suffix of ['-backend', '-frontend'])
      expect(
        find(objects, 'Deployment', suffix).spec.template.spec.containers[0].securityContext.appArmorProfile,
      ).toBe(undefined);
  });

  it('the shipped seccomp profile adds exactly what bubblewrap needs to the default', () => {
    const profile = JSON.parse(
      readFileSync(resolve(chartDir, 'files/seccomp/ipa-worker-bwrap.json'), 'utf8'),
    ) as { defaultAction: string; syscalls: { names: string[]; action: string; args?: unknown[] }[] };
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    const allowedAlways = new Set(
      profile.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names),
    );
    for (const name of ['unshare', 'clone', 'clone3', 'mount', 'umount2', 'pivot_root'])
      expect(allowedAlways.has(name), name).toBe(true);
    // what RuntimeDefault refuses without capabilities and bubblewrap never needs stays refused
    for (const name of [
      'setns',
      'bpf',
      'kexec_load',
      'init_module',
      'finit_module',
      'open_by_handle_at',
      'chroot',
    ])
      expect(allowedAlways.has(name), name).toBe(false);
    // the OCI form containerd reads: no Docker-only fields that it would silently ignore
    expect(JSON.stringify(profile)).not.toMatch(/"(includes|excludes|archMap)"/);
  });
});

describe.each(valuesFiles)('sandbox disk budget (%s)', (env) => {
  it('the sandbox emptyDir and the ephemeral-storage request cover the budget passed to the worker, plus headroom', async () => {
    const pod = find(await renderEnvironment(env), 'Deployment', '-worker').spec.template.spec;
    const worker = pod.containers[0];
    const budget = Number(
      worker.env.find((e: { name: string }) => e.name === 'SANDBOX_DISK_BUDGET_BYTES')?.value,
    );
    expect(budget).toBeGreaterThan(0);
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name).emptyDir;
    const sandbox = bytes(volume('sandbox').sizeLimit);
    // eviction runs after the budget is passed and never removes a directory in use
    expect(sandbox).toBeGreaterThanOrEqual(budget + Math.max(128 * 1024 ** 2, budget * 0.1));
    const request = bytes(worker.resources.requests['ephemeral-storage']);
    expect(request).toBeGreaterThanOrEqual(sandbox + bytes(volume('tmp').sizeLimit));
  });
});

describe('sandbox disk budget values', () => {
  it('one value sizes all three', async () => {
    const objects: K8sObject[] = await render({
      environment: 'prod',
      apiVersions: monitoringApiVersions,
      values: { worker: { sandbox: { diskBudget: '20Gi', diskHeadroom: '4Gi' }, tmpSizeLimit: '1Gi' } },
    });
    const pod = find(objects, 'Deployment', '-worker').spec.template.spec;
    expect(pod.containers[0].env).toContainEqual({
      name: 'SANDBOX_DISK_BUDGET_BYTES',
      value: String(20 * 1024 ** 3),
    });
    expect(pod.volumes.find((v: { name: string }) => v.name === 'sandbox').emptyDir.sizeLimit).toBe(
      `${24 * 1024}Mi`,
    );
    expect(pod.containers[0].resources.requests['ephemeral-storage']).toBe(`${25 * 1024}Mi`);
  });

  it('a budget the chart cannot size from is refused', async () => {
    await expect(
      render({ environment: 'prod', values: { worker: { sandbox: { diskBudget: '2.5G' } } } }),
    ).rejects.toThrow(/diskBudget|quantity/);
  });
});
