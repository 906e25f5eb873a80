import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartDir, ciValuesFiles, environments, helm, valuesFile } from './support/index.js';

const lint = (...extra: string[]) => helm(['lint', '--strict', chartDir, ...extra]);
const envFile = (env: string) => resolve(chartDir, `values-${env}.yaml`);

describe('helm lint --strict', () => {
  for (const env of environments) {
    it(`passes with values-${env}.yaml`, async () => {
      const result = await lint('-f', envFile(env));
      expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
      expect(result.code).toBe(0);
    });
  }

  // chart-testing: every ci/ values file lints on its own over values.yaml
  for (const file of ciValuesFiles) {
    it(`passes with ${file}`, async () => {
      const result = await lint('-f', resolve(chartDir, file));
      expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
      expect(result.code).toBe(0);
    });
  }

  it('fails on an unknown key', async () => {
    const result = await lint('-f', envFile('dev'), '-f', valuesFile({ backend: { replicas: 3 } }));
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/additional properties 'replicas' not allowed/);
  });

  it('fails on an unknown top-level key', async () => {
    const result = await lint('-f', envFile('dev'), '-f', valuesFile({ autoscaling: { enabled: true } }));
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/additional properties 'autoscaling' not allowed/);
  });

  it('fails on a wrong type', async () => {
    const result = await lint('-f', envFile('dev'), '-f', valuesFile({ worker: { replicaCount: 'two' } }));
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/replicaCount.*got string, want integer/);
  });

  it('fails on a value outside its enum', async () => {
    const result = await lint(
      '-f',
      envFile('dev'),
      '-f',
      valuesFile({ worker: { sandbox: { isolation: 'none' } } }),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/isolation/);
  });

  it('fails on a secret put into the ConfigMap settings', async () => {
    const result = await lint(
      '-f',
      envFile('dev'),
      '-f',
      valuesFile({ config: { extraSettings: { DATABASE_URL: 'postgresql://x' } } }),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/invalid propertyName 'DATABASE_URL'/);
  });

  it('fails on a scale-down window under 300 s', async () => {
    const result = await lint(
      '-f',
      envFile('prod'),
      '-f',
      valuesFile({ backend: { autoscaling: { scaleDownStabilizationSeconds: 60 } } }),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/scaleDownStabilizationSeconds/);
  });

  // helm lint lets `fail` pass for the chart's own defaults, so this one is proven by rendering
  it('refuses to render without a database, with a clear message', async () => {
    const result = await helm(['template', 'ipa', chartDir]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('a database is needed: set secrets.databaseUrl');
  });
});
