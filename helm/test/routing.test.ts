/**
 * What a proxy in front of the API must let through, derived from the app's own settings: request
 * bodies up to MAX_UPLOAD_BYTES (ingress-nginx refuses over 1 MiB by default), event streams
 * unbuffered and open as long as the longest execution or agent turn. The same paths for the
 * Ingress and the Gateway API HTTPRoute, including `/hooks/` for automation webhooks.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settings } from '../../backend/src/config/index.js';
import {
  type Free,
  find,
  findAll,
  type K8sObject,
  monitoringApiVersions,
  render,
  renderEnvironment,
  repoRoot,
  valuesFiles,
} from './support/index.js';

/** The app's default of a numeric setting (what its schema gives for an unset variable). */
const defaultOf = (name: keyof typeof settings) => Number(settings[name].schema.parse(undefined));

/** The app's limits as the release sets them (ConfigMap), else the app's defaults. */
function appLimits(objects: K8sObject[]) {
  const data = find(objects, 'ConfigMap', '').data;
  const read = (name: keyof typeof settings) => Number(data[name] ?? defaultOf(name));
  return {
    maxUploadBytes: read('MAX_UPLOAD_BYTES'),
    streamSeconds: Math.max(read('EXECUTION_TIMEOUT_SECONDS'), read('AGENT_TIMEOUT_SECONDS')),
  };
}

/** ingress-nginx size (`26m`, `512k`, bytes) → bytes. */
function nginxSize(value: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value);
  if (!m) throw new Error(`unexpected nginx size ${value}`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? 1);
}

const routesOf = (objects: K8sObject[]): [string, string][] => {
  const ingress = findAll(objects, 'Ingress')[0];
  if (ingress)
    return ingress.spec.rules[0].http.paths.map((p: Free) => [
      p.path.replace(/\/$/, '') || '/',
      p.backend.service.name,
    ]);
  const route = find(objects, 'HTTPRoute', '');
  return route.spec.rules.map((r: Free) => [r.matches[0].path.value, r.backendRefs[0].name]);
};

describe.each(valuesFiles)('routing through the Ingress or HTTPRoute (%s)', (env) => {
  it('the Ingress takes bodies up to MAX_UPLOAD_BYTES and streams events for the longest run', async () => {
    const objects = await renderEnvironment(env);
    const limits = appLimits(objects);
    for (const ingress of findAll(objects, 'Ingress')) {
      const a = ingress.metadata.annotations ?? {};
      expect(nginxSize(a['nginx.ingress.kubernetes.io/proxy-body-size'] ?? '1m')).toBeGreaterThanOrEqual(
        limits.maxUploadBytes,
      );
      expect(a['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
      for (const key of ['proxy-read-timeout', 'proxy-send-timeout'])
        expect(Number(a[`nginx.ingress.kubernetes.io/${key}`] ?? 60), key).toBeGreaterThan(
          limits.streamSeconds,
        );
    }
  });

  it('the HTTPRoute keeps API streams open for the longest run', async () => {
    const objects = await renderEnvironment(env);
    const limits = appLimits(objects);
    for (const route of findAll(objects, 'HTTPRoute')) {
      for (const rule of route.spec.rules.filter((r: Free) => r.backendRefs[0].name.endsWith('-backend'))) {
        expect(Number.parseInt(rule.timeouts.request, 10)).toBeGreaterThan(limits.streamSeconds);
        expect(Number.parseInt(rule.timeouts.backendRequest, 10)).toBeGreaterThan(limits.streamSeconds);
      }
    }
  });

  it('/api and /hooks go to the API, the rest to the web app', async () => {
    const objects = await renderEnvironment(env);
    if (findAll(objects, 'Ingress').length === 0 && findAll(objects, 'HTTPRoute').length === 0) return;
    expect(routesOf(objects)).toEqual([
      ['/api', 'ipa-ipa-platform-backend'],
      ['/hooks', 'ipa-ipa-platform-backend'],
      ['/', 'ipa-ipa-platform-frontend'],
    ]);
  });
});

describe('routing follows the app settings', () => {
  it('a larger MAX_UPLOAD_BYTES and longer time limits move the Ingress with them', async () => {
    const objects = await render({
      environment: 'prod',
      apiVersions: monitoringApiVersions,
      values: { config: { maxUploadBytes: 100 * 1024 ** 2, agentTimeoutSeconds: 1800 } },
    });
    const a = find(objects, 'Ingress', '').metadata.annotations;
    expect(find(objects, 'ConfigMap', '').data.MAX_UPLOAD_BYTES).toBe(String(100 * 1024 ** 2));
    expect(a['nginx.ingress.kubernetes.io/proxy-body-size']).toBe('101m');
    expect(a['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('1860');
  });

  it('the Gateway API route: same paths, needs its CRD and a parent', async () => {
    const values = { gatewayApi: { enabled: true, parentRefs: [{ name: 'public' }] } };
    const objects = await render({ environment: 'prod', apiVersions: monitoringApiVersions, values });
    expect(find(objects, 'HTTPRoute', '').spec.parentRefs).toEqual([{ name: 'public' }]);
    await expect(
      render({
        environment: 'prod',
        apiVersions: monitoringApiVersions.filter((v) => !v.includes('gateway')),
        values,
      }),
    ).rejects.toThrow(/Gateway API CRDs/);
    await expect(
      render({
        environment: 'prod',
        apiVersions: monitoringApiVersions,
        values: { gatewayApi: { enabled: true } },
      }),
    ).rejects.toThrow(/parentRefs is needed/);
  });

  it('the web app proxies /hooks/ to the API too, and takes bodies up to MAX_UPLOAD_BYTES', () => {
    const conf = readFileSync(resolve(repoRoot, 'frontend/nginx/nginx.conf.template'), 'utf8');
    expect(conf).toMatch(/location \/hooks\/ \{\s*proxy_pass __BACKEND_URL__;/);
    const size = /client_max_body_size (\w+);/.exec(conf)?.[1] ?? '1m';
    expect(nginxSize(size)).toBeGreaterThanOrEqual(defaultOf('MAX_UPLOAD_BYTES'));
  });
});
