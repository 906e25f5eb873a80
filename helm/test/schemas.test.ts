import { describe, expect, it } from 'vitest';
import {
  isCustomResource,
  kubernetesVersions,
  monitoringApiVersions,
  render,
  renderEnvironment,
  unknownFields,
  validateObject,
  valuesFiles,
} from './support/index.js';

describe('rendered objects match the Kubernetes API schemas', () => {
  for (const env of valuesFiles) {
    for (const version of kubernetesVersions) {
      it(`${env} against Kubernetes ${version}`, async () => {
        const objects = await renderEnvironment(env);
        const problems = (await Promise.all(objects.map((o) => validateObject(o, version)))).flat();
        expect(problems).toEqual([]);
      });
    }
  }

  for (const env of valuesFiles) {
    for (const version of kubernetesVersions) {
      it(`${env} has no field unknown to Kubernetes ${version} (strict)`, async () => {
        const objects = (await renderEnvironment(env)).filter((o) => !isCustomResource(o));
        expect(objects.flatMap((o) => unknownFields(o, version))).toEqual([]);
      });
    }
  }

  it('strict check reports a misplaced field', async () => {
    const deployment = (await renderEnvironment('prod')).find((o) => o.kind === 'Deployment')!;
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    broken.spec.template.spec.maxSurge = 1;
    for (const version of kubernetesVersions) {
      expect(unknownFields(broken, version)).toEqual([
        `Deployment/${deployment.metadata.name} (Kubernetes ${version}): unknown field Deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem`,
        `Deployment/${deployment.metadata.name} (Kubernetes ${version}): unknown field Deployment.spec.template.spec.maxSurge`,
      ]);
    }
  });

  it('renders for the oldest and newest supported Kubernetes versions', async () => {
    for (const kubeVersion of ['v1.30.0', `v${kubernetesVersions.at(-1)}.0`]) {
      await expect(
        render({ environment: 'prod', kubeVersion, apiVersions: monitoringApiVersions }),
      ).resolves.not.toHaveLength(0);
    }
    await expect(
      render({ environment: 'prod', kubeVersion: 'v1.29.9', apiVersions: monitoringApiVersions }),
    ).rejects.toThrow(/kubeVersion/);
  });

  it('validates the custom resources against their CRD schemas', async () => {
    const objects = await renderEnvironment('prod');
    const custom = objects.filter(isCustomResource).map((o) => o.kind);
    expect(custom.sort()).toEqual(
      ['PodMonitor', 'PrometheusRule', 'ScaledObject', 'ServiceMonitor', 'TriggerAuthentication'].sort(),
    );
    const problems = (
      await Promise.all(objects.filter(isCustomResource).map((o) => validateObject(o, '1.35')))
    ).flat();
    expect(problems).toEqual([]);
  });

  it('reports an object that breaks its schema', async () => {
    const [deployment] = (await renderEnvironment('dev')).filter((o) => o.kind === 'Deployment');
    const broken = structuredClone(deployment!);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    for (const version of kubernetesVersions) {
      const problems = await validateObject(broken, version);
      expect(problems.join('\n')).toMatch(/containerPort must be integer/);
    }
    const scaled = (await renderEnvironment('prod')).find((o) => o.kind === 'ScaledObject')!;
    const brokenScaled = structuredClone(scaled);
    brokenScaled.spec.minReplicaCount = 'two';
    expect((await validateObject(brokenScaled, '1.35')).join('\n')).toMatch(
      /minReplicaCount must be integer/,
    );
  });

  it('renders no hard-coded namespace', async () => {
    const objects = await render({
      environment: 'prod',
      namespace: 'elsewhere',
      apiVersions: monitoringApiVersions,
    });
    for (const o of objects)
      expect(`${o.kind}/${o.metadata.name}: ${o.metadata.namespace}`).toMatch(/: elsewhere$/);
  });
});
