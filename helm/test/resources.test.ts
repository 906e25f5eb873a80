import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretSettingNames, settings } from '../../backend/src/config/index.js';
import { waitListKey } from '../../backend/src/queue/index.js';
import {
  chartDir,
  type Free,
  find,
  findAll,
  type K8sObject,
  render,
  renderEnvironment,
} from './support/index.js';

const external = {
  secrets: { databaseUrl: 'postgresql://ipa:pw@db:5432/ipa', redisUrl: 'redis://redis:6379' },
};
const decode = (value: string) => Buffer.from(value, 'base64').toString('utf8');
type Rule = { to?: Free[]; from?: Free[]; ports?: { port: number | string; protocol: string }[] };

describe('ConfigMap and Secret', () => {
  it('the ConfigMap holds only known non-secret settings', async () => {
    const config = find(await renderEnvironment('prod'), 'ConfigMap', '');
    for (const name of Object.keys(config.data)) {
      expect(Object.keys(settings), name).toContain(name);
      expect(secretSettingNames, name).not.toContain(name);
    }
    expect(config.data).toMatchObject({ LOG_LEVEL: 'info', REDIS_PREFIX: 'ipa', TRUST_PROXY: 'true' });
  });

  it('the Secret holds the secret settings, and the schema refuses them as plain settings', async () => {
    const objects = await render({
      values: { secrets: { ...external.secrets, adminToken: 't'.repeat(24), anthropicApiKey: 'sk-test' } },
    });
    const secret = find(objects, 'Secret', 'ipa-platform');
    expect(Object.keys(secret.data).sort()).toEqual([
      'ANTHROPIC_API_KEY',
      'DATABASE_URL',
      'IPA_ADMIN_TOKEN',
      'REDIS_URL',
    ]);
    expect(decode(secret.data.DATABASE_URL)).toBe(external.secrets.databaseUrl);
    const schema = JSON.parse(readFileSync(resolve(chartDir, 'values.schema.json'), 'utf8'));
    const refused: string[] = schema.properties.config.properties.extraSettings.propertyNames.not.enum;
    for (const name of secretSettingNames) expect(refused, name).toContain(name);
    const worker = find(objects, 'Deployment', '-worker').spec.template.spec.containers[0];
    expect(worker.env).toContainEqual({
      name: 'ANTHROPIC_API_KEY',
      valueFrom: { secretKeyRef: { name: 'ipa-ipa-platform', key: 'ANTHROPIC_API_KEY' } },
    });
    expect(JSON.stringify(find(objects, 'ConfigMap', '').data)).not.toContain('sk-test');
  });

  it('existingSecret: no Secret is made and the containers refer to it', async () => {
    const objects = await renderEnvironment('prod');
    expect(findAll(objects, 'Secret')).toEqual([]);
    const env = find(objects, 'Deployment', '-worker').spec.template.spec.containers[0].env;
    for (const name of secretSettingNames.filter((n) => n !== 'IPA_ADMIN_TOKEN')) {
      const ref = env.find((e: { name: string }) => e.name === name)?.valueFrom?.secretKeyRef;
      expect(ref?.name, name).toBe('ipa-platform-secrets');
      // the two connection URLs must exist; a missing one stops the pod with a clear event
      expect(ref?.optional, name).toBe(['DATABASE_URL', 'REDIS_URL'].includes(name) ? undefined : true);
    }
  });

  it('secrets as files: mounted read-only with <NAME>_FILE variables', async () => {
    const objects = await render({
      values: { ...external, secrets: { ...external.secrets, deliverAs: 'files' } },
    });
    const pod = find(objects, 'Deployment', '-worker').spec.template.spec;
    expect(pod.containers[0].env).toContainEqual({
      name: 'DATABASE_URL_FILE',
      value: '/var/run/secrets/ipa-platform/DATABASE_URL',
    });
    expect(pod.containers[0].env.some((e: { name: string }) => e.name === 'DATABASE_URL')).toBe(false);
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: 'secrets',
      mountPath: '/var/run/secrets/ipa-platform',
      readOnly: true,
    });
    // only the worker's own keys are projected into its volume
    expect(pod.volumes).toContainEqual({
      name: 'secrets',
      secret: {
        secretName: 'ipa-ipa-platform',
        defaultMode: 0o440,
        items: [
          { key: 'DATABASE_URL', path: 'DATABASE_URL' },
          { key: 'REDIS_URL', path: 'REDIS_URL' },
        ],
      },
    });
  });

  it('in-cluster PostgreSQL and Redis URLs are generated for dev', async () => {
    const secret = find(await renderEnvironment('dev'), 'Secret', 'ipa-platform');
    expect(decode(secret.data.DATABASE_URL)).toBe(
      'postgresql://ipa:ipa-dev-password@ipa-ipa-platform-postgresql:5432/ipa',
    );
    expect(decode(secret.data.REDIS_URL)).toBe('redis://ipa-ipa-platform-redis:6379/0');
  });
});

describe('services and ingress', () => {
  it('Services have named ports and the worker has none', async () => {
    const objects = await renderEnvironment('prod');
    expect(find(objects, 'Service', '-backend').spec.ports).toEqual([
      { name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
    ]);
    expect(find(objects, 'Service', '-frontend').spec.ports[0]).toMatchObject({ name: 'http', port: 8080 });
    expect(objects.some((o) => o.kind === 'Service' && o.metadata.name.endsWith('-worker'))).toBe(false);
  });

  it('Ingress: / to the frontend, /api and /hooks/ to the API, TLS, class and SSE timeouts', async () => {
    const ingress = find(await renderEnvironment('prod'), 'Ingress', '');
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.tls).toEqual([{ secretName: 'ipa-ipa-platform-tls', hosts: ['ipa.example.com'] }]);
    const paths = ingress.spec.rules[0].http.paths.map(
      (p: { path: string; backend: { service: { name: string } } }) => [p.path, p.backend.service.name],
    );
    expect(paths).toEqual([
      ['/api', 'ipa-ipa-platform-backend'],
      ['/hooks/', 'ipa-ipa-platform-backend'],
      ['/', 'ipa-ipa-platform-frontend'],
    ]);
    expect(ingress.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      // the longer of the execution (300 s) and agent (180 s) limits, plus a minute
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '360',
      'cert-manager.io/cluster-issuer': 'letsencrypt',
    });
    expect(find(await renderEnvironment('dev'), 'Ingress', '').spec.tls).toBeUndefined();
  });

  it('the web app proxies /api to the API Service', async () => {
    const c = find(await renderEnvironment('prod'), 'Deployment', '-frontend').spec.template.spec
      .containers[0];
    expect(c.env).toContainEqual({ name: 'BACKEND_URL', value: 'http://ipa-ipa-platform-backend:8000' });
  });
});

describe('NetworkPolicies', () => {
  const policy = async (suffix: string) => find(await renderEnvironment('prod'), 'NetworkPolicy', suffix);
  const component = (peer: { podSelector?: { matchLabels?: Record<string, string> } }) =>
    peer.podSelector?.matchLabels?.['app.kubernetes.io/component'];

  it('API ingress only from the ingress controller and the web app', async () => {
    const np = await policy('-backend');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const http = np.spec.ingress.find((r: Rule) => r.ports?.[0]?.port === 'http' && r.from?.length === 3);
    const [controller, frontend, test] = http.from;
    expect(controller.namespaceSelector.matchLabels).toEqual({
      'kubernetes.io/metadata.name': 'ingress-nginx',
    });
    expect(component(frontend)).toBe('frontend');
    expect(component(test)).toBe('test');
    // the other rule is the monitoring scrape
    expect(np.spec.ingress).toHaveLength(2);
    expect(np.spec.ingress[1].from[0].namespaceSelector.matchLabels).toEqual({
      'kubernetes.io/metadata.name': 'monitoring',
    });
  });

  it('worker egress only to DNS, Redis, PgBouncer (prod) and the model API on 443, never the metadata address', async () => {
    const np = await policy('-worker');
    // only Prometheus, on the metrics port
    expect(np.spec.ingress).toHaveLength(1);
    expect(np.spec.ingress[0].ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    const egress: Rule[] = np.spec.egress;
    const ports = egress.map((r) => r.ports?.map((p) => `${p.protocol}/${p.port}`).join(','));
    expect(ports).toEqual(['UDP/53,TCP/53', 'TCP/6379', 'TCP/5432', 'TCP/443']);
    expect(egress[1]?.to).toEqual([{ ipBlock: { cidr: '10.21.0.0/16' } }]);
    // prod pools through PgBouncer: the worker reaches its pods, only PgBouncer the database CIDR
    expect(egress[2]?.to?.map(component)).toEqual(['pgbouncer']);
    const bouncer = await policy('-pgbouncer');
    expect(bouncer.spec.egress.at(-1)).toEqual({
      ports: [{ port: 5432, protocol: 'TCP' }],
      to: [{ ipBlock: { cidr: '10.20.0.0/16' } }],
    });
    const model = egress[3]?.to?.[0]?.ipBlock;
    expect(model.cidr).toBe('0.0.0.0/0');
    const excluded = (model.except as string[]).some((cidr) => cidrContains(cidr, '169.254.169.254'));
    expect(excluded).toBe(true);
  });

  it('in-cluster stores are reached by pod selector and accept only the platform', async () => {
    const objects = await render({ environment: 'dev', values: { networkPolicy: { enabled: true } } });
    const worker = find(objects, 'NetworkPolicy', '-worker');
    expect(component(worker.spec.egress[1].to[0])).toBe('redis');
    expect(component(worker.spec.egress[2].to[0])).toBe('postgresql');
    const store = find(objects, 'NetworkPolicy', '-postgresql');
    expect(store.spec.ingress[0].from.map(component)).toEqual(['backend', 'worker', 'migrations']);
    expect(store.spec.egress).toEqual([]);
  });

  it('web app ingress only from the ingress controller, egress only to the API', async () => {
    const np = await policy('-frontend');
    expect(np.spec.ingress).toHaveLength(1);
    expect(component(np.spec.egress[1].to[0])).toBe('backend');
  });
});

describe('hooks, tests and monitoring', () => {
  it('migration Job as a pre-install,pre-upgrade hook', async () => {
    const objects = await renderEnvironment('prod');
    const job = find(objects, 'Job', '-migrations');
    expect(job.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const c = job.spec.template.spec.containers[0];
    expect(c.args).toEqual(['migrate']);
    expect(c.env).toContainEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'ipa-platform-secrets', key: 'DATABASE_URL' } },
    });
    // with a chart-made Secret the hook brings its own, created before the Job
    const made = await render({ values: external });
    const hookSecret = find(made, 'Secret', '-migrations');
    expect(Number(hookSecret.metadata.annotations['helm.sh/hook-weight'])).toBeLessThan(
      Number(find(made, 'Job', '-migrations').metadata.annotations['helm.sh/hook-weight']),
    );
  });

  it('dev migrates in an init container of the API (in-cluster PostgreSQL)', async () => {
    const objects = await renderEnvironment('dev');
    expect(findAll(objects, 'Job')).toEqual([]);
    const init = find(objects, 'Deployment', '-backend').spec.template.spec.initContainers;
    expect(init.map((c: { name: string; args: string[] }) => [c.name, c.args])).toEqual([
      ['migrate', ['migrate']],
    ]);
  });

  it('helm test pod checks /health/ready through the Service', async () => {
    const pod = find(await renderEnvironment('prod'), 'Pod', '-test-ready');
    expect(pod.metadata.annotations['helm.sh/hook']).toBe('test');
    expect(pod.spec.containers[0].command.at(-1)).toBe('http://ipa-ipa-platform-backend:8000/health/ready');
  });

  it('ServiceMonitor and PodMonitor when enabled', async () => {
    const withApi = await renderEnvironment('prod');
    const monitor = find(withApi, 'ServiceMonitor', '-backend');
    expect(monitor.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
    expect(find(withApi, 'PodMonitor', '-worker').spec.podMetricsEndpoints[0].port).toBe('http');
    const off = await render({
      environment: 'prod',
      values: { metrics: { serviceMonitor: { enabled: false }, prometheusRule: { enabled: false } } },
    });
    expect(off.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')).toBe(false);
  });

  it('PrometheusRule alerts on error rate, latency, queue backlog and worker crash loops', async () => {
    const rule = find(await renderEnvironment('prod'), 'PrometheusRule', '');
    const alerts = rule.spec.groups[0].rules.map((r: { alert: string }) => r.alert);
    expect(alerts).toEqual([
      'IpaApiHighErrorRate',
      'IpaApiHighLatency',
      'IpaQueueBacklog',
      'IpaWorkerCrashLooping',
    ]);
    const exprs = rule.spec.groups[0].rules.map((r: { expr: string }) => r.expr).join('\n');
    for (const metric of [
      'ipa_http_request_duration_seconds_count',
      'ipa_http_request_duration_seconds_bucket',
      'ipa_queue_depth',
    ]) {
      expect(exprs).toContain(metric);
    }
  });

  it('the KEDA list is the platform queue wait list', async () => {
    const scaled: K8sObject = find(await renderEnvironment('prod'), 'ScaledObject', '-worker');
    const waiting = scaled.spec.triggers.find((t: { name: string }) => t.name === 'waiting');
    expect(waiting.metadata.listName).toBe(waitListKey('ipa'));
  });
});

/** Whether an IPv4 CIDR contains an address. */
function cidrContains(cidr: string, address: string): boolean {
  const [base, bits] = cidr.split('/');
  if (!base || bits === undefined || base.includes(':')) return false;
  const toInt = (a: string) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(base) / size);
}
