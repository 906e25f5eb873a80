import { describe, expect, it } from 'vitest';
import { catalogues } from './index';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') out.set(path, value);
    else for (const [k, v] of flatten(value, path)) out.set(k, v);
  }
  return out;
}

// Plural forms differ by language (English has _one and _other, Chinese only _other).
const base = (key: string) => key.replace(/_(zero|one|two|few|many|other)$/, '');

// Product names and programming-language names read the same in both languages.
const sameInBoth = new Set([
  'automations.languages.javascript',
  'automations.languages.typescript',
  'automations.languages.python',
]);

describe('message catalogues', () => {
  const en = flatten(catalogues.en as Tree);
  const zh = flatten(catalogues['zh-TW'] as Tree);

  it('have the same keys', () => {
    expect([...new Set([...zh.keys()].map(base))].sort()).toEqual(
      [...new Set([...en.keys()].map(base))].sort(),
    );
  });

  it('translate every string to Traditional Chinese', () => {
    const untranslated = [...en.keys()]
      .filter((key) => !sameInBoth.has(key) && zh.has(key) && zh.get(key) === en.get(key))
      .sort();
    expect(untranslated).toEqual([]);
    for (const [key, value] of zh) {
      if (sameInBoth.has(key)) continue;
      expect(value, key).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('use the same placeholders in both languages', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
    for (const [key, value] of en) {
      const other = zh.get(key) ?? zh.get(`${base(key)}_other`);
      if (other === undefined) continue;
      if (key.endsWith('_one')) continue;
      expect(placeholders(other), key).toEqual(placeholders(value));
    }
  });
});
