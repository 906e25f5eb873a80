import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chartDir,
  environments,
  helm,
  monitoringApiVersions,
  renderRaw,
  valuesFile,
  valuesFiles,
} from './support/index.js';

describe('chart layout', () => {
  it('one resource per template file, the kind in its name', async () => {
    const seen = new Map<string, Set<string>>();
    for (const environment of valuesFiles) {
      const { stdout, code, stderr } = await renderRaw({ environment, apiVersions: monitoringApiVersions });
      expect(code, stderr).toBe(0);
      for (const doc of stdout.split(/^---$/m)) {
        const source = /^# Source: ipa-platform\/templates\/(.+)$/m.exec(doc)?.[1];
        const kind = /^kind: (\w+)$/m.exec(doc)?.[1];
        // extraObjects holds whatever kinds the user adds
        if (!source || !kind || source === 'extraobjects.yaml') continue;
        seen.set(source, (seen.get(source) ?? new Set()).add(kind));
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    for (const [source, kinds] of seen) {
      expect([...kinds], source).toHaveLength(1);
      const kind = [...kinds][0]!.toLowerCase();
      const file = source.split('/').at(-1)!.replace('.yaml', '');
      expect(
        file.includes(kind) || (kind === 'pod' && source.startsWith('tests/')),
        `${source}: ${kind}`,
      ).toBe(true);
    }
  });

  it('NOTES.txt renders for every environment', async () => {
    for (const environment of environments) {
      const result = await helm([
        'install',
        'ipa',
        chartDir,
        '--namespace',
        'ipa',
        '--dry-run=client',
        '-f',
        resolve(chartDir, `values-${environment}.yaml`),
        // a client-side dry run serves no CRDs, and asking for a monitor without them fails
        '-f',
        valuesFile({ metrics: { serviceMonitor: { enabled: false }, prometheusRule: { enabled: false } } }),
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('helm test ipa --namespace ipa');
    }
  });
});
