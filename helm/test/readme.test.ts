import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chartDir,
  documentedValues,
  readmeTable,
  schemaEnumHints,
  undocumentedValues,
  valuesTable,
} from './support/index.js';

describe('README and values.yaml', () => {
  it('every value in values.yaml is documented with a # -- comment', () => {
    expect(undocumentedValues()).toEqual([]);
  });

  it('a value without a # -- comment is reported', () => {
    const text = '# -- Documented.\na: 1\nb:\n  c: 2\n';
    expect(undocumentedValues(text)).toEqual(['b.c']);
  });

  it('the README value table matches values.yaml (regenerate: npx tsx scripts/chart-values-table.ts)', () => {
    expect(readmeTable()).toBe(valuesTable());
  });

  it('the README covers every environment, the isolation choices, upgrade, rollback and autoscaling', () => {
    const readme = readFileSync(resolve(chartDir, 'README.md'), 'utf8');
    for (const text of [
      'values-dev.yaml',
      'values-staging.yaml',
      'values-prod.yaml',
      'gVisor',
      'user namespaces',
      'helm rollback',
      'Autoscaling signals',
      ':executions:wait',
    ]) {
      expect(readme).toContain(text);
    }
  });

  it('every documented value exists in the schema', () => {
    const schema = JSON.parse(readFileSync(resolve(chartDir, 'values.schema.json'), 'utf8'));
    for (const { key } of documentedValues()) {
      let node = schema;
      for (const part of key.split('.')) {
        while (node.$ref) node = schema.definitions[node.$ref.replace('#/definitions/', '')];
        if (node.type === 'object' && !node.properties) break;
        node = node.properties?.[part];
        expect(node, key).toBeDefined();
      }
    }
  });

  it('the # @schema enum hints of values.yaml match values.schema.json', () => {
    const schema = JSON.parse(readFileSync(resolve(chartDir, 'values.schema.json'), 'utf8'));
    const hints = schemaEnumHints();
    expect(hints.size).toBeGreaterThan(5);
    for (const [key, values] of hints) {
      let node = schema;
      for (const part of key.split('.')) {
        while (node.$ref) node = schema.definitions[node.$ref.replace('#/definitions/', '')];
        node = node.properties[part];
      }
      while (node.$ref) node = schema.definitions[node.$ref.replace('#/definitions/', '')];
      expect(node.enum, key).toEqual(values);
    }
  });
});
