/**
 * Vitest global setup of the chart project: one directory for the values files tests hand to
 * helm (`valuesFile`), removed when the run ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const valuesDirVariable = 'IPA_CHART_VALUES_DIR';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'ipa-chart-test-values-'));
  process.env[valuesDirVariable] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
