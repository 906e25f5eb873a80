/**
 * Secrets per component: a secret setting reaches only the processes that read it. The API never
 * holds a model key, the worker (agent turns and sandboxes) never holds the admin token, the
 * migration job holds the database URL only, the web app and the test pod hold nothing.
 */
import { describe, expect, it } from 'vitest';
import { secretSettingNames } from '../../backend/src/config/index.js';
import {
  type Free,
  type K8sObject,
  monitoringApiVersions,
  podSpecs,
  render,
  renderEnvironment,
  valuesFiles,
} from './support/index.js';

const models = ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'AZURE_OPENAI_API_KEY', 'OPENAI_COMPATIBLE_API_KEY'];
const shared = [
  'DATABASE_URL',
  'REDIS_URL',
  'REDIS_SENTINEL_PASSWORD',
  'BLOB_S3_ACCESS_KEY_ID',
  'BLOB_S3_SECRET_ACCESS_KEY',
  'BLOB_AZURE_CONNECTION_STRING',
  'IPA_SECRETS_KEY',
];
const needs: Record<string, string[]> = {
  backend: ['IPA_ADMIN_TOKEN', ...shared],
  worker: [...shared, ...models],
  migrations: ['DATABASE_URL'],
  // the in-cluster PostgreSQL (dev) reads its own password from a Secret of its own
  postgresql: ['POSTGRES_PASSWORD'],
  // PgBouncer's auth file (its own Secret, or PGBOUNCER_USERLIST of an existing one), nothing else
  pgbouncer: ['userlist.txt'],
};

/** Setting names each pod can read from a Secret: env refs, `_FILE` paths and projected volume items. */
function secretReach(objects: K8sObject[]): { owner: string; component: string; names: Set<string> }[] {
  // the key → setting name mapping of the Secret the chart points at (existingSecretKeys)
  return podSpecs(objects).map(({ owner, spec, metadata }) => {
    const names = new Set<string>();
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const e of c.env ?? []) {
        if (e.valueFrom?.secretKeyRef) names.add(e.name);
        if (e.name.endsWith('_FILE') && String(e.value).startsWith('/var/run/secrets/ipa-platform/'))
          names.add(e.name.replace(/_FILE$/, ''));
      }
      for (const from of c.envFrom ?? [])
        if (from.secretRef) names.add(`all keys of Secret/${from.secretRef.name}`);
    }
    for (const v of spec.volumes ?? []) {
      for (const source of v.projected?.sources ?? []) {
        if (!source.secret) continue;
        if (!source.secret.items) names.add(`all keys of Secret/${source.secret.name}`);
        for (const item of source.secret.items ?? []) names.add(item.path);
      }
      if (!v.secret) continue;
      if (!v.secret.items) names.add(`all keys of Secret/${v.secret.secretName}`);
      for (const item of v.secret.items ?? []) names.add(item.path);
    }
    return { owner, component: metadata.labels['app.kubernetes.io/component'], names };
  });
}

function problems(objects: K8sObject[]): string[] {
  return secretReach(objects).flatMap(({ owner, component, names }) => {
    // the API pod's init container migrates (dev): the database URL is already the API's
    const allowed = new Set(needs[component] ?? []);
    return [...names].filter((n) => !allowed.has(n)).map((n) => `${owner} (${component}) receives ${n}`);
  });
}

const everySecret = {
  secrets: {
    adminToken: 'a'.repeat(32),
    databaseUrl: 'postgresql://ipa:pw@db:5432/ipa',
    redisUrl: 'redis://redis:6379',
    anthropicApiKey: 'sk-ant',
    openaiApiKey: 'sk-oai',
    azureOpenaiApiKey: 'az',
    openaiCompatibleApiKey: 'oc',
    secretsKey: 'k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
    redisSentinelPassword: 'sentinel',
    blobS3AccessKeyId: 'AKIA',
    blobS3SecretAccessKey: 's3-secret',
    blobAzureConnectionString: 'UseDevelopmentStorage=true',
  },
};

describe.each(valuesFiles)('secrets per component (%s)', (env) => {
  it('no Secret key reaches a component that does not need it', async () => {
    expect(problems(await renderEnvironment(env))).toEqual([]);
  });
});

describe('secrets per component', () => {
  for (const deliverAs of ['env', 'files'] as const) {
    it(`with every secret set, delivered as ${deliverAs}`, async () => {
      const objects = await render({
        values: { secrets: { ...everySecret.secrets, deliverAs } },
        apiVersions: monitoringApiVersions,
      });
      expect(problems(objects)).toEqual([]);
      const reach = Object.fromEntries(secretReach(objects).map((r) => [r.component, [...r.names].sort()]));
      expect(reach.backend).toEqual([...needs.backend!].sort());
      expect(reach.worker).toEqual([...needs.worker!].sort());
      expect(reach.migrations).toEqual(['DATABASE_URL']);
      expect(reach.frontend).toEqual([]);
      // every secret setting of the app goes somewhere
      expect(new Set(Object.values(reach).flat())).toEqual(new Set(secretSettingNames));
    });
  }

  it('existing-Secret key names are mappable', async () => {
    const objects = await render({
      environment: 'prod',
      apiVersions: monitoringApiVersions,
      values: {
        secrets: {
          existingSecretKeys: {
            DATABASE_URL: 'uri',
            PGBOUNCER_DATABASE_URL: 'pooled',
            ANTHROPIC_API_KEY: 'anthropic',
          },
        },
      },
    });
    const env = (suffix: string) =>
      podSpecs(objects).find((p) => p.owner.endsWith(suffix))!.spec.containers[0].env as Free[];
    const ref = (suffix: string, name: string) =>
      env(suffix).find((e) => e.name === name)?.valueFrom.secretKeyRef;
    // prod pools through PgBouncer: the API and the worker read the pooled URL, the migrations the direct one
    expect(ref('-worker', 'DATABASE_URL')).toEqual({ name: 'ipa-platform-secrets', key: 'pooled' });
    expect(ref('-backend', 'DATABASE_URL')).toEqual({ name: 'ipa-platform-secrets', key: 'pooled' });
    expect(ref('-worker', 'ANTHROPIC_API_KEY')).toEqual({
      name: 'ipa-platform-secrets',
      key: 'anthropic',
      optional: true,
    });
    expect(ref('-migrations', 'DATABASE_URL')).toEqual({ name: 'ipa-platform-secrets', key: 'uri' });
    expect(ref('-backend', 'ANTHROPIC_API_KEY')).toBeUndefined();
  });

  it('the rule catches a whole Secret mounted into the API', async () => {
    const objects = structuredClone(await render({ values: everySecret }));
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-backend'))!;
    api.spec.template.spec.containers[0].envFrom.push({ secretRef: { name: 'ipa-ipa-platform' } });
    expect(problems(objects)).toEqual([
      'Deployment/ipa-ipa-platform-backend (backend) receives all keys of Secret/ipa-ipa-platform',
    ]);
  });
});
