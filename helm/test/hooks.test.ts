/**
 * Install order as the API server enforces it: during `pre-install` nothing but earlier hooks
 * exists, and a pod naming a ServiceAccount, Secret or ConfigMap that does not exist is refused
 * (ServiceAccount admission) or never starts. So every hook pod may reference only objects that
 * are themselves hooks of the same events with a lower weight, or that exist before the install
 * (an existing Secret, the namespace's `default` ServiceAccount).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  chartDir,
  type Environment,
  type Free,
  type K8sObject,
  monitoringApiVersions,
  podSpecs,
  render,
  renderEnvironment,
  valuesFiles,
  valuesPathOf,
} from './support/index.js';

const preEvents = ['pre-install', 'pre-upgrade', 'pre-rollback'];
const hookEvents = (o: K8sObject) =>
  String(o.metadata.annotations?.['helm.sh/hook'] ?? '')
    .split(',')
    .filter(Boolean);
const hookWeight = (o: K8sObject) => Number(o.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);

/** Objects a pod spec needs to exist: kind/name. Optional Secret refs are left out: a missing one is fine. */
function podReferences(spec: Free): string[] {
  const refs = new Set<string>([`ServiceAccount/${spec.serviceAccountName ?? 'default'}`]);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const from of c.envFrom ?? []) {
      if (from.secretRef && !from.secretRef.optional) refs.add(`Secret/${from.secretRef.name}`);
      if (from.configMapRef && !from.configMapRef.optional) refs.add(`ConfigMap/${from.configMapRef.name}`);
    }
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef;
      if (s && !s.optional) refs.add(`Secret/${s.name}`);
      const m = e.valueFrom?.configMapKeyRef;
      if (m && !m.optional) refs.add(`ConfigMap/${m.name}`);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret && !v.secret.optional) refs.add(`Secret/${v.secret.secretName}`);
    if (v.configMap && !v.configMap.optional) refs.add(`ConfigMap/${v.configMap.name}`);
  }
  return [...refs];
}

/** What a values file says exists before the install. */
function preexisting(env: Environment | undefined, values: Free = {}): Set<string> {
  const file = env ? (parse(readFileSync(valuesPathOf(env), 'utf8')) ?? {}) : {};
  const existing = new Set(['ServiceAccount/default']);
  const secret = values.secrets?.existingSecret ?? file.secrets?.existingSecret;
  if (secret) existing.add(`Secret/${secret}`);
  const account = values.migrations?.serviceAccount?.name ?? file.migrations?.serviceAccount?.name;
  if (account) existing.add(`ServiceAccount/${account}`);
  return existing;
}

/** Problems: each reference of a hook pod that would not exist when the pod is created. */
function hookOrderProblems(objects: K8sObject[], existing: Set<string>): string[] {
  const problems: string[] = [];
  for (const owner of objects.filter((o) => hookEvents(o).some((e) => preEvents.includes(e)))) {
    const events = hookEvents(owner).filter((e) => preEvents.includes(e));
    for (const { spec } of podSpecs([owner])) {
      for (const ref of podReferences(spec)) {
        if (existing.has(ref)) continue;
        const made = objects.find((o) => `${o.kind}/${o.metadata.name}` === ref);
        const where = `${owner.kind}/${owner.metadata.name} → ${ref}`;
        if (!made) problems.push(`${where}: neither rendered nor existing before install`);
        else if (!events.every((e) => hookEvents(made).includes(e)))
          problems.push(`${where}: not a hook of ${events.join(',')} (it is made after the hooks run)`);
        else if (hookWeight(made) >= hookWeight(owner))
          problems.push(`${where}: hook weight ${hookWeight(made)} is not below ${hookWeight(owner)}`);
      }
    }
  }
  return problems;
}

describe.each(valuesFiles)('hook pods and install order (%s)', (env) => {
  it('hook pods reference only objects made as earlier hooks or existing before install', async () => {
    const objects = await renderEnvironment(env);
    expect(hookOrderProblems(objects, preexisting(env))).toEqual([]);
  });
});

describe('hook pods and install order (chart-made Secret and options)', () => {
  const external = {
    secrets: { databaseUrl: 'postgresql://ipa:pw@db:5432/ipa', redisUrl: 'redis://redis:6379' },
  };
  for (const [name, values] of [
    ['secrets as env', external],
    ['secrets as files', { secrets: { ...external.secrets, deliverAs: 'files' } }],
    [
      'a named migration ServiceAccount',
      { ...external, migrations: { serviceAccount: { name: 'db-migrator' } } },
    ],
    ['no shared ServiceAccount', { ...external, serviceAccount: { create: false } }],
  ] as const) {
    it(`with ${name}`, async () => {
      const objects = await render({ values, apiVersions: monitoringApiVersions });
      expect(objects.some((o) => o.kind === 'Job')).toBe(true);
      expect(hookOrderProblems(objects, preexisting(undefined, values))).toEqual([]);
    });
  }

  it('the rule catches a hook pod naming an ordinary ServiceAccount', async () => {
    const objects = await render({ values: external });
    const job = objects.find((o) => o.kind === 'Job')!;
    const broken = structuredClone(job);
    broken.spec.template.spec.serviceAccountName = 'ipa-ipa-platform';
    expect(hookOrderProblems([...objects.filter((o) => o !== job), broken], new Set())).toEqual([
      `Job/${job.metadata.name} → ServiceAccount/ipa-ipa-platform: not a hook of pre-install,pre-upgrade (it is made after the hooks run)`,
    ]);
  });

  it('rollback runs no migration, and the README says what helm rollback runs', async () => {
    const objects = await render({ values: external });
    for (const o of objects)
      expect(hookEvents(o), `${o.kind}/${o.metadata.name}`).not.toContain('pre-rollback');
    const readme = readFileSync(resolve(chartDir, 'README.md'), 'utf8');
    expect(readme).toContain('`helm rollback` runs only rollback hooks');
    expect(readme).not.toMatch(/rollback[^.\n]*runs the migration/i);
  });
});
