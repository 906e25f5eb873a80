/**
 * Prometheus's scrape path: every ServiceMonitor/PodMonitor the chart renders must reach its pods
 * through the NetworkPolicies that select them, and a monitor asked for on a cluster without the
 * Prometheus operator's CRDs fails the render instead of being dropped.
 */
import { describe, expect, it } from 'vitest';
import {
  type Free,
  findAll,
  type K8sObject,
  monitoringApiVersions,
  podSpecs,
  render,
  renderEnvironment,
  renderRaw,
  valuesFiles,
} from './support/index.js';

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Where Prometheus runs: kube-prometheus-stack's pods in namespace `monitoring` by default. */
interface PrometheusAt {
  namespace: Record<string, string>;
  pod: Record<string, string>;
}
const kubePrometheusStack: PrometheusAt = {
  namespace: { 'kubernetes.io/metadata.name': 'monitoring' },
  pod: {
    'app.kubernetes.io/name': 'prometheus',
    'app.kubernetes.io/instance': 'kube-prometheus-stack-prometheus',
  },
};

/** Whether a NetworkPolicy peer admits a pod with these labels in a namespace with these labels. */
const admits = (peer: Free, at: PrometheusAt) =>
  peer.namespaceSelector !== undefined &&
  matches(peer.namespaceSelector.matchLabels ?? {}, at.namespace) &&
  matches(peer.podSelector?.matchLabels ?? {}, at.pod);

/** Problems: each monitor endpoint whose pods a NetworkPolicy isolates from Prometheus. */
function scrapePathProblems(objects: K8sObject[], at: PrometheusAt = kubePrometheusStack): string[] {
  const problems: string[] = [];
  const monitors = objects.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor');
  for (const monitor of monitors) {
    const selector = monitor.spec.selector.matchLabels;
    const endpoints: Free[] = monitor.spec.endpoints ?? monitor.spec.podMetricsEndpoints;
    const pods = podSpecs(objects).filter((p) => matches(selector, p.metadata.labels ?? {}));
    if (pods.length === 0) problems.push(`${monitor.kind}/${monitor.metadata.name}: selects no pods`);
    for (const pod of pods) {
      const policies = findAll(objects, 'NetworkPolicy').filter(
        (np) =>
          np.spec.policyTypes.includes('Ingress') &&
          matches(np.spec.podSelector.matchLabels ?? {}, pod.metadata.labels),
      );
      if (policies.length === 0) continue;
      for (const endpoint of endpoints) {
        const allowed = policies.some((np) =>
          (np.spec.ingress ?? []).some(
            (rule: Free) =>
              (rule.ports ?? [{ port: endpoint.port }]).some((p: Free) => p.port === endpoint.port) &&
              (rule.from === undefined || rule.from.some((peer: Free) => admits(peer, at))),
          ),
        );
        if (!allowed)
          problems.push(
            `${monitor.kind}/${monitor.metadata.name} → ${pod.owner} port ${endpoint.port}: no NetworkPolicy path`,
          );
      }
    }
  }
  return problems;
}

describe.each(valuesFiles)('scrape path (%s)', (env) => {
  it('every ServiceMonitor and PodMonitor has a NetworkPolicy path to its pods', async () => {
    expect(scrapePathProblems(await renderEnvironment(env))).toEqual([]);
  });
});

describe('monitoring on the cluster', () => {
  it('prod renders a monitor for the API and the worker, each reachable', async () => {
    const objects = await renderEnvironment('prod');
    expect(objects.filter((o) => ['ServiceMonitor', 'PodMonitor'].includes(o.kind))).toHaveLength(2);
    expect(scrapePathProblems(objects)).toEqual([]);
  });

  it('the rule catches a policy without the monitoring namespace', async () => {
    const objects = structuredClone(await renderEnvironment('prod'));
    for (const np of findAll(objects, 'NetworkPolicy'))
      np.spec.ingress = (np.spec.ingress ?? []).filter(
        (r: Free) =>
          !r.from?.some(
            (p: Free) => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring',
          ),
      );
    expect(scrapePathProblems(objects).length).toBe(2);
  });

  it('a ServiceMonitor asked for without the CRD fails the render loudly', async () => {
    const result = await renderRaw({ environment: 'prod' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /does not serve monitoring\.coreos\.com\/v1 (ServiceMonitor|PodMonitor|PrometheusRule)/,
    );
  });

  it('a ServiceMonitor with NetworkPolicies but no monitoring namespace fails the render', async () => {
    await expect(
      render({
        environment: 'prod',
        apiVersions: monitoringApiVersions,
        values: { networkPolicy: { monitoring: { namespaceSelector: null, podSelector: null } } },
      }),
    ).rejects.toThrow(/networkPolicy.monitoring.namespaceSelector/);
  });

  it('the monitoring namespace and pods are values', async () => {
    const objects = await render({
      environment: 'prod',
      apiVersions: monitoringApiVersions,
      values: {
        networkPolicy: {
          monitoring: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } },
            podSelector: null,
          },
        },
      },
    });
    const worker = findAll(objects, 'NetworkPolicy').find((np) => np.metadata.name.endsWith('-worker'))!;
    expect(worker.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } },
    ]);
    const observability = { namespace: { 'kubernetes.io/metadata.name': 'observability' }, pod: {} };
    expect(scrapePathProblems(objects, observability)).toEqual([]);
    expect(scrapePathProblems(objects).length).toBe(2);
  });
});
