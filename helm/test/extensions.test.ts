/**
 * The extension points users expect (Bitnami/traefik names), exercised by ci/extensions-values.yaml:
 * global.imageRegistry, commonLabels/commonAnnotations on every object, extraObjects, sidecars and
 * initContainers, per-component ServiceAccounts, extraEnv/extraVolumes, priorityClassName and
 * ephemeral-storage requests.
 */
import { describe, expect, it } from 'vitest';
import { type Free, find, findAll, podSpecs, renderEnvironment } from './support/index.js';

const env = 'ci/extensions-values.yaml' as const;
const main = (spec: Free) => spec.containers[0];

describe('extension points (ci/extensions-values.yaml)', () => {
  it('commonLabels and commonAnnotations on every object', async () => {
    // extraObjects are the user's own, rendered as given
    for (const o of (await renderEnvironment(env)).filter(
      (x) => !x.metadata.name.endsWith('-proxy-config'),
    )) {
      expect(o.metadata.labels?.team, `${o.kind}/${o.metadata.name}`).toBe('platform');
      expect(o.metadata.annotations?.owner, `${o.kind}/${o.metadata.name}`).toBe('platform-team@example.com');
    }
  });

  it('global.imageRegistry replaces the registry of every chart image', async () => {
    for (const { owner, spec } of podSpecs(await renderEnvironment(env))) {
      // the platform's images, and PgBouncer's (by digest in this file)
      expect(main(spec).image, owner).toMatch(/^registry\.internal\.example\/(ipa-platform|edoburu)\//);
    }
  });

  it('extraObjects are rendered with tpl', async () => {
    const config = find(await renderEnvironment(env), 'ConfigMap', '-proxy-config');
    expect(config.metadata.name).toBe('ipa-ipa-platform-proxy-config');
    expect(config.data.instance).toBe('project:region:instance');
  });

  it('sidecars, init containers, extra env and volumes reach their component only', async () => {
    const objects = await renderEnvironment(env);
    const pod = (suffix: string) => find(objects, 'Deployment', suffix).spec.template.spec;
    expect(pod('-backend').containers.map((c: Free) => c.name)).toEqual(['api', 'cloud-sql-proxy']);
    expect(main(pod('-backend')).env).toContainEqual({
      name: 'NODE_OPTIONS',
      value: '--max-old-space-size=384',
    });
    expect(pod('-worker').containers.map((c: Free) => c.name)).toEqual(['worker']);
    expect(pod('-worker').initContainers.map((c: Free) => c.name)).toEqual(['wait-for-proxy-config']);
    expect(main(pod('-worker')).volumeMounts).toContainEqual({
      name: 'proxy-config',
      mountPath: '/etc/proxy',
      readOnly: true,
    });
    expect(pod('-frontend').initContainers).toBeUndefined();
  });

  it('per-component ServiceAccounts, made and used, with their annotations', async () => {
    const objects = await renderEnvironment(env);
    const accounts = Object.fromEntries(findAll(objects, 'ServiceAccount').map((a) => [a.metadata.name, a]));
    for (const c of ['backend', 'worker', 'frontend']) {
      const name = `ipa-ipa-platform-${c}`;
      expect(accounts[name], name).toBeDefined();
      expect(find(objects, 'Deployment', `-${c}`).spec.template.spec.serviceAccountName).toBe(name);
    }
    expect(
      accounts['ipa-ipa-platform-backend']?.metadata.annotations['iam.gke.io/gcp-service-account'],
    ).toMatch(/^ipa-api@/);
    // the migration hook keeps its own, made before it
    expect(find(objects, 'Job', '-migrations').spec.template.spec.serviceAccountName).toBe(
      'ipa-ipa-platform-migrations',
    );
  });

  it('priorityClassName and ephemeral-storage requests', async () => {
    const objects = await renderEnvironment(env);
    const pod = (suffix: string) => find(objects, 'Deployment', suffix).spec.template.spec;
    expect(pod('-backend').priorityClassName).toBe('platform-high');
    expect(pod('-worker').priorityClassName).toBe('platform-batch');
    expect(main(pod('-backend')).resources.requests['ephemeral-storage']).toBe('256Mi');
    expect(main(pod('-worker')).resources.requests['ephemeral-storage']).toMatch(/^\d+Mi$/);
  });
});
